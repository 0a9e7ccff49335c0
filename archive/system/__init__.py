"""The platform seam: what Windows, macOS and Linux do differently with paths, names, locks and
durable writes is decided here and nowhere else."""
