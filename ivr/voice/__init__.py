"""The robocall: its prompts, its call flow over carrier webhooks, and their URLs."""
