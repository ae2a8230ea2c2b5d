"""facecam: recognise people on a live webcam (MTCNN or YuNet + VGG-Face or SFace).

Importing facecam loads no model, no TensorFlow and no Qt.
"""

from facecam.types import Face, Faces, Match, Recognition

__version__ = "0.1.0"
__all__ = ["Face", "Faces", "Match", "Recognition", "__version__"]
