"""Motion gating: an empty, still scene costs no detection rounds.

A camera at a door or a desk is empty most of the day. Running the face detector on every frame of
an empty room (MTCNN ~40 ms, YuNet ~19 ms a 640x480 frame) keeps a core busy for nothing. The
:class:`MotionGate` looks at each frame first, at a small grey size (every 4th pixel of a 640 px frame,
blurred), against a slowly adapting background, and says whether anything moved:

* a pixel has changed when it differs from the background by more than ``pixel_threshold`` grey
  levels **after the frame's overall change is taken out** (the median difference): a light switched
  on, a cloud, auto-exposure or flicker move every pixel together and are not motion;
* sensor noise and compression are blurred away and stay under the threshold;
* the frame has motion when more than ``min_area`` of its pixels changed (0.2%: a face 40 px wide in
  a 640x480 frame covers about 0.5%);
* the background follows the scene at ``alpha`` per frame, so a slow change of light stops counting
  as motion after a second or two; where something moves it follows ten times slower, so a person who
  stood in view for a while leaves no ghost behind, and a chair moved and left is absorbed in about
  twenty seconds.

:class:`facecam.pipeline.LivePipeline` asks the gate only while no face is tracked: with a track,
detection runs every round as before (a still person is still followed). With no track and no motion,
a round is skipped, except for a safety detection every ``safety_s`` seconds (a face that came in
without moving, a gate that missed). Once the room has been still for ``doze_after_s``, the live worker
looks at only ``idle_fps`` frames a second (it sleeps in between, the frames meanwhile replace each other
unseen); the first motion it sees brings it back to every frame. Pure numpy + OpenCV's colour conversion and blur, on a 160x120
sample: about 0.1 ms of CPU a 640x480 frame (decoding the frame costs ten times more).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WIDTH = 160
SAFETY_S = 5.0      # a still, empty room: one detection every SAFETY_S s (a face that came in without moving)
MOVING_RATE = 0.1   # where something moves, the background follows ten times slower (no ghost once it has gone)


@dataclass(frozen=True)
class MotionOptions:
    """The gate's settings (see the module notes); ``enabled=False`` detects on every round."""

    enabled: bool = True
    pixel_threshold: float = 18.0
    min_area: float = 0.002
    alpha: float = 0.05
    safety_s: float = SAFETY_S
    # a room still for doze_after_s is looked at idle_fps times a second (the live worker sleeps in between;
    # the first motion wakes it to every frame again)
    idle_fps: float = 10.0
    doze_after_s: float = 1.0

    def __post_init__(self) -> None:
        if not (0 < self.min_area < 1 and 0 < self.alpha <= 1 and self.pixel_threshold > 0 and self.safety_s > 0
                and self.idle_fps > 0 and self.doze_after_s >= 0):
            raise ValueError("motion: expected 0 < min_area < 1, 0 < alpha <= 1, pixel_threshold > 0, safety_s > 0, "
                             "idle_fps > 0 and doze_after_s >= 0")


def median(values: np.ndarray) -> float:
    """``np.median(values)`` (the mean of the two middle values for an even count), from one ``np.partition``:
    np.median's own overhead was half of the gate's time a look in an idle room (~0.8 ms of a 1.4 ms look,
    against ~0.05 ms; a loaded machine, the look's code cold every 100 ms)."""
    flat = np.ravel(values)
    n = flat.size
    if n == 0:
        return 0.0
    k = (n - 1) // 2
    if n % 2:
        return np.partition(flat, k)[k]
    middle = np.partition(flat, (k, k + 1))
    return (middle[k] + middle[k + 1]) / 2


class MotionGate:
    """Says whether a frame differs from the recent scene (module notes). One per video source; not
    thread-safe (the recognition thread owns it)."""

    def __init__(self, options: MotionOptions | None = None):
        self.options = options or MotionOptions()
        self._background: np.ndarray | None = None
        self.last_fraction = 0.0

    def small_grey(self, bgr_frame: np.ndarray) -> np.ndarray:
        """The frame at about :data:`WIDTH` px wide (every n-th pixel: no resampling cost), grey, blurred,
        as float32. The blur averages the sensor noise that the sampling keeps. The sample is OpenCV's nearest
        resize (the same pixels as ``bgr_frame[::step, ::step]``, at 0.15 ms of a 0.24 ms numpy copy on a frame
        the cache no longer holds, as the dozing gate's is)."""
        import cv2  # noqa: PLC0415 - the video side has loaded it already

        height, width = (int(n) for n in bgr_frame.shape[:2])
        step = max(width // WIDTH, 1)
        if step > 1 and not (width % step or height % step):
            small = cv2.resize(bgr_frame, (width // step, height // step), interpolation=cv2.INTER_NEAREST)
        else:   # (the resize picks other pixels when the size is not a multiple of the step)
            small = np.ascontiguousarray(bgr_frame[::step, ::step])
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        return cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32)

    def moved(self, bgr_frame: np.ndarray, frames: int = 1) -> bool:
        """True when ``bgr_frame`` shows motion against the background (the first frame always does);
        the background then takes a step towards it: the step of ``frames`` frames (the frames since the last
        look, when the gate looked at fewer than all), so it follows the scene at the same pace in seconds."""
        import cv2  # noqa: PLC0415

        grey = self.small_grey(bgr_frame)
        background = self._background
        if background is None or background.shape != grey.shape:
            self._background = grey
            self.last_fraction = 1.0
            return True
        difference = grey - background
        difference -= median(difference[::4, ::4])   # the whole frame brighter or darker: light, not motion
        changed = np.abs(difference) > self.options.pixel_threshold
        self.last_fraction = np.count_nonzero(changed) / changed.size   # (np.mean of bools: ten times as long)
        moving = changed.astype(np.uint8)
        steps = max(int(frames), 1)
        alpha, slow = (1 - (1 - rate) ** steps for rate in (self.options.alpha, self.options.alpha * MOVING_RATE))
        cv2.accumulateWeighted(grey, background, alpha, mask=1 - moving)
        cv2.accumulateWeighted(grey, background, slow, mask=moving)
        return self.last_fraction > self.options.min_area

    def reset(self) -> None:
        """Forget the background (a new source): the next frame counts as motion."""
        self._background = None


def motion_options(off: bool = False, settings: dict | None = None) -> MotionOptions:
    """The gate for a live command: on, unless ``--no-motion-gate`` or the setting ``"motion_gate": false``."""
    from facecam import config  # noqa: PLC0415

    settings = config.load_settings() if settings is None else settings
    return MotionOptions(enabled=not off and settings.get("motion_gate") is not False)
