"""Text handling shared by ingestion, search and answers: letter forms, digits and language of a text."""
