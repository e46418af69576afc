"""Small shared pieces: errors that name the file and the field, JSON Lines, model-folder checks."""
