"""Model providers: NVIDIA NIM, Anthropic, and the offline provider."""
