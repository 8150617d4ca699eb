"""few shot."""
