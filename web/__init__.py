"""The bot's own HTTP server: webhook, health, metrics and calendar feeds."""
