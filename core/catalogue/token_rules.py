"""How the chat API counts prompt tokens (OpenAI's token-counting cookbook), without importing tiktoken."""

TOKENS_PER_MESSAGE = 3  # every message adds 3 tokens beyond its values
TOKENS_PER_NAME = 1  # a message's `name` adds 1 more
REPLY_PRIMING_TOKENS = 3  # every prompt ends with 3 tokens priming the assistant's reply
