"""Training: labeled calls -> datasets.Dataset, the heads trainer, the model card."""
