"""``python -m dicom_listener``."""

import sys

from dicom_listener.app import main

sys.exit(main())
