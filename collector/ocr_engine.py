"""Text in an image, read with RapidOCR (PP-OCRv4 det + rec on onnxruntime).

The models ship inside the ``rapidocr_onnxruntime`` wheel and are opened from
the installed package only: nothing is fetched at run time, and a missing model
is an error (:class:`OcrUnavailable`), never a download.

One engine per worker process, one thread per engine: the OCR stage gets its
parallelism from processes, so onnxruntime, OpenCV and BLAS are each held to a
single thread here.

Speed policy, measured on 1080x2340 chat screenshots (bench/ocr_bench.py):
- detection runs on a scaled-down copy. A tall (phone) screen is scaled to a
  long side of ``det_long_side`` (800 px): its text is drawn for a ~3x pixel
  density, so 29 px times are still ~10 px tall there and all are found, with
  character accuracy 0.999 as at 960 px (0.995 at 640 px), at a fifth of the
  full-size cost and 15% less than at 960 px. Anything else (a desktop capture,
  a photo) keeps a short side of at least ``det_min_short_side`` (736 px,
  RapidOCR's own default), because its text is drawn at ~1x density;
- recognition crops each line from the full-resolution image (capped at
  ``max_long_side``), so small print keeps every pixel it has;
- lines are recognised one at a time at their own width: RapidOCR's batches of
  six pad every line to the widest and cost twice as much per line here, and the
  memory arena RapidOCR turns off saves another third;
- the recogniser reads lines 40 px tall rather than its native 48: the network
  accepts any height, character accuracy stays above 0.99 on the bench, and each
  line costs a fifth less (at 32 px accuracy falls to ~0.98, at 36 px ~0.993).
No angle classifier: screenshots are upright and photos are turned upright from
their EXIF orientation before reading.
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

ENGINE = "rapidocr"
#: Images with more pixels than this are refused rather than decoded (a
#: decompression bomb): 50 megapixels is beyond any phone screen or camera
#: that officers are handed.
MAX_PIXELS = 50_000_000

_MODELS = {
    "det": "ch_PP-OCRv4_det_infer.onnx",
    "rec": "ch_PP-OCRv4_rec_infer.onnx",
}


class OcrUnavailable(RuntimeError):
    """The engine or its shipped models are not installed."""


class OcrFailed(ValueError):
    """This image cannot be read (not an image, damaged, or too large)."""


@dataclass(frozen=True, slots=True)
class OcrLine:
    text: str
    #: Four corners (x, y) in pixels of the original image, clockwise from top left.
    box: tuple[tuple[int, int], ...]
    confidence: float

    @property
    def top(self) -> int:
        return min(y for _, y in self.box)

    @property
    def bottom(self) -> int:
        return max(y for _, y in self.box)

    @property
    def left(self) -> int:
        return min(x for x, _ in self.box)

    @property
    def right(self) -> int:
        return max(x for x, _ in self.box)


@dataclass(frozen=True, slots=True)
class OcrResult:
    lines: tuple[OcrLine, ...]
    engine: str
    version: str
    width: int
    height: int
    seconds: float
    #: CPU time of the reading (one thread): what it costs a core, whatever else runs.
    cpu_seconds: float = 0.0

    @property
    def text(self) -> str:
        """Every line in reading order, one per line."""
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True, slots=True)
class ScalePolicy:
    #: Long side of the copy the text detector sees, for tall (phone) screens.
    det_long_side: int = 800
    #: Short side the detector's copy keeps at least, for everything else.
    det_min_short_side: int = 736
    #: Height / width at and above which an image is a phone screen.
    tall_ratio: float = 1.6
    #: Height in pixels each text line is scaled to for the recogniser.
    rec_height: int = 40
    #: Recognition crops come from the image scaled down to at most this long side.
    max_long_side: int = 2400
    #: Lines the recogniser is less sure of than this are dropped (RapidOCR's default).
    min_confidence: float = 0.5


def engine_version() -> str:
    try:
        return metadata.version("rapidocr_onnxruntime")
    except metadata.PackageNotFoundError as exc:
        raise OcrUnavailable("rapidocr_onnxruntime is not installed") from exc


def model_paths() -> dict[str, Path]:
    """The shipped model files; raises OcrUnavailable when any is missing."""
    # Located without importing it: the package pulls in OpenCV and onnxruntime, which
    # only the worker processes need.
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise OcrUnavailable("rapidocr_onnxruntime is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))).resolve() / "models"
    paths = {name: folder / file for name, file in _MODELS.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise OcrUnavailable(f"OCR model missing from the installed package: {missing[0]}")
    return paths


def single_thread_environment() -> None:
    """Hold numeric libraries to one thread; call before they are first imported."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"


class OcrEngine:
    """Loads the models once; ``read`` is then called for each image."""

    def __init__(self, policy: ScalePolicy | None = None) -> None:
        self.policy = policy or ScalePolicy()
        self.version = engine_version()
        paths = model_paths()
        try:
            import cv2
            import numpy as np
            import onnxruntime
            from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
            from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
            from rapidocr_onnxruntime.utils import OrtInferSession, read_yaml
        except ImportError as exc:
            raise OcrUnavailable(f"OCR engine cannot load: {exc}") from exc
        cv2.setNumThreads(1)
        self._cv2, self._np = cv2, np
        self.runtime_version = onnxruntime.__version__
        config = read_yaml(paths["det"].parent.parent / "config.yaml")
        threads = {"intra_op_num_threads": 1, "inter_op_num_threads": 1,
                   "use_cuda": False, "use_dml": False}
        # "min" with a tiny limit: the detector then takes the size it is given
        # (rounded to 32) instead of scaling to its own idea of a good size.
        det_config = {**config["Det"], **threads, "model_path": str(paths["det"]),
                      "limit_type": "min", "limit_side_len": 32}
        rec_config = {**config["Rec"], **threads, "model_path": str(paths["rec"]),
                      "rec_batch_num": 1}
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 4
        # RapidOCR builds its sessions with the memory arena off, which costs a third
        # of the time here; its option builder is swapped for ours while they load.
        original = OrtInferSession.__dict__["_init_sess_opts"]
        OrtInferSession._init_sess_opts = staticmethod(lambda _config: options)
        try:
            self._det = TextDetector(det_config)
            self._rec = TextRecognizer(rec_config)
        finally:
            OrtInferSession._init_sess_opts = original

    # -- reading --------------------------------------------------------------

    def read(self, data: bytes) -> OcrResult:
        return self.read_image(load_image(data))

    def read_image(self, image: Image.Image) -> OcrResult:
        started, cpu_started = time.perf_counter(), time.process_time()
        np, cv2 = self._np, self._cv2
        if image.mode != "RGB":
            image = image.convert("RGB")
        width, height = image.size
        full = np.asarray(image)[:, :, ::-1]  # RGB -> BGR, as the models were trained
        scale = min(1.0, self.policy.max_long_side / max(width, height))
        if scale < 1.0:
            full = cv2.resize(full, (round(width * scale), round(height * scale)),
                              interpolation=cv2.INTER_AREA)
        full = np.ascontiguousarray(full)
        boxes = self._detect(full)
        lines: list[OcrLine] = []
        if boxes is not None and len(boxes):
            for box in boxes:
                text, confidence = self._recognise(self._crop(full, box))
                text = text.strip()
                if not text or confidence < self.policy.min_confidence:
                    continue
                corners = tuple((round(float(x) / scale), round(float(y) / scale))
                                for x, y in box)
                lines.append(OcrLine(text, corners, round(confidence, 4)))
        return OcrResult(tuple(reading_order(lines)), ENGINE, self.version, width, height,
                         round(time.perf_counter() - started, 4),
                         round(time.process_time() - cpu_started, 4))

    def _detect(self, full: Any) -> Any:
        cv2 = self._cv2
        height, width = full.shape[:2]
        factor = det_scale(width, height, self.policy)
        small = full if factor == 1.0 else cv2.resize(
            full, (max(32, round(width * factor)), max(32, round(height * factor))),
            interpolation=cv2.INTER_AREA)
        boxes, _ = self._det(small)
        if boxes is None or len(boxes) == 0:
            return None
        # Boxes back into the coordinates of the image the crops are cut from.
        scale_x = width / small.shape[1]
        scale_y = height / small.shape[0]
        boxes = boxes.astype("float32")
        boxes[:, :, 0] *= scale_x
        boxes[:, :, 1] *= scale_y
        return boxes

    def _crop(self, image: Any, box: Any) -> Any:
        """The quadrilateral ``box`` straightened into an upright strip."""
        np, cv2 = self._np, self._cv2
        points = np.asarray(box, dtype=np.float32)
        width = int(max(np.linalg.norm(points[0] - points[1]),
                        np.linalg.norm(points[2] - points[3])))
        height = int(max(np.linalg.norm(points[0] - points[3]),
                         np.linalg.norm(points[1] - points[2])))
        if width < 1 or height < 1:
            return np.zeros((0, 0, 3), dtype=np.uint8)
        target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
        matrix = cv2.getPerspectiveTransform(points, target)
        return cv2.warpPerspective(image, matrix, (width, height),
                                   borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)

    def _recognise(self, crop: Any) -> tuple[str, float]:
        np, cv2 = self._np, self._cv2
        h, w = crop.shape[:2]
        if h == 0 or w == 0:
            return "", 0.0
        if h / w >= 1.5:  # a vertical strip: read it turned, as RapidOCR does
            crop = np.rot90(crop)
            h, w = crop.shape[:2]
        target_h = self.policy.rec_height
        ratio = w / h
        # Width rounded up to the network's stride of 8, never below 16 columns.
        target_w = max(16, math.ceil(target_h * ratio / 8) * 8)
        resized = cv2.resize(crop, (min(target_w, math.ceil(target_h * ratio)), target_h))
        batch = np.zeros((1, 3, target_h, target_w), dtype=np.float32)
        batch[0, :, :, : resized.shape[1]] = (
            resized.astype(np.float32).transpose((2, 0, 1)) / 127.5 - 1.0)
        preds = self._rec.session(batch)[0]
        decoded = self._rec.postprocess_op(preds, False, wh_ratio_list=[ratio],
                                           max_wh_ratio=target_w / target_h)
        text, confidence = decoded[0][0], decoded[0][1]
        return str(text), float(confidence)


def det_scale(width: int, height: int, policy: ScalePolicy) -> float:
    """How much the text detector's copy is scaled down (1.0: not at all)."""
    long_side, short_side = max(width, height), min(width, height)
    factor = policy.det_long_side / long_side
    if height < width * policy.tall_ratio:
        factor = max(factor, policy.det_min_short_side / short_side)
    return min(1.0, factor)


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top to bottom; boxes on the same row (centres within half a line) left to right."""
    ordered = sorted(lines, key=lambda line: (line.top + line.bottom) / 2)
    rows: list[list[OcrLine]] = []
    for line in ordered:
        centre = (line.top + line.bottom) / 2
        if rows:
            last = rows[-1][0]
            half = max(1, (last.bottom - last.top) / 2)
            if abs(centre - (last.top + last.bottom) / 2) <= half:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.left)]


def load_image(data: bytes) -> Image.Image:
    """Decode an image for reading: upright (EXIF orientation), RGB, first frame.

    Raises OcrFailed for anything that is not a readable image of sane size.
    """
    _register_heif()
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise OcrFailed(f"image of {width}x{height} pixels is too large to read "
                                f"(limit {MAX_PIXELS:,})")
            if width < 8 or height < 8:
                raise OcrFailed(f"image of {width}x{height} pixels is too small to read")
            opened.seek(0)
            image = ImageOps.exif_transpose(opened)
            image.load()
    except OcrFailed:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise OcrFailed(f"not a readable image ({type(exc).__name__}: {exc})") from exc
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels read as white paper, not as the black of no data.
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if _heif_registered:
        return
    _heif_registered = True
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # HEIC then reads as "not a readable image", nothing worse
        pass


# -- worker processes -------------------------------------------------------------------

_WORKER_ENGINE: OcrEngine | None = None


def init_worker(policy: ScalePolicy | None = None) -> None:
    """ProcessPoolExecutor initializer: one engine, one thread, per worker process."""
    global _WORKER_ENGINE
    single_thread_environment()
    _WORKER_ENGINE = OcrEngine(policy)


def read_path(path: str) -> OcrResult | str:
    """Read one stored original; a string is the one-line reason it could not be read."""
    if _WORKER_ENGINE is None:
        init_worker()
    assert _WORKER_ENGINE is not None
    try:
        return _WORKER_ENGINE.read(Path(path).read_bytes())
    except OcrFailed as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop a batch
        return f"internal error in OCR: {type(exc).__name__}: {exc}"


def check_image(path: str | Path) -> str | None:
    """Cheap look at the header only: why this file cannot be read, or None."""
    _register_heif()
    try:
        with Image.open(path) as opened:
            width, height = opened.size
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        return f"not a readable image ({type(exc).__name__}: {exc})"
    if width * height > MAX_PIXELS:
        return f"image of {width}x{height} pixels is too large to read (limit {MAX_PIXELS:,})"
    if width < 8 or height < 8:
        return f"image of {width}x{height} pixels is too small to read"
    return None
