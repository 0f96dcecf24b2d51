"""DICOM C-STORE listener: receives chest films from the PACS and turns them into ChestFilm."""


class DicomListenerError(Exception):
    """Root exception of the DICOM listener."""
