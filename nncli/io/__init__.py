"""Files: CSV and Parquet reading, column encoding, the training set, the model file,
checkpoints, run folders, atomic writes. The only pandas users."""
