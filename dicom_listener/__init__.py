"""DICOM C-STORE listener: receives chest films from the PACS and turns them into ChestFilm."""


class DicomListenerError(Exception):
    """Root exception of the DICOM listener."""


class ReceiptError(DicomListenerError):
    """A received instance cannot be accepted; ``status`` is the DIMSE status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FilmRejectedError(DicomListenerError):
    """A spooled instance is not scored (not a chest film, undecodable, unknown patient...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
