"""Retraining launchers behind `RetrainingLauncher`: command, OpenAI fine-tune, webhook."""
