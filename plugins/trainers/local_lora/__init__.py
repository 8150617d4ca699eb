"""local lora."""
