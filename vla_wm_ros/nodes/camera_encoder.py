"""camera_encoder: sensor_msgs/Image -> Embedding through the world model's image encoder.

Accepts rgb8, bgr8, rgba8, bgra8 and mono8 (cv_bridge semantics; ros/image_conversion),
resizes to the model's input when allowed, and publishes the image features with the
source image's header and the id of the encoder weights. A malformed image (wrong
encoding, step mismatch, zero size, short buffer) is dropped with a logged reason.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image

from vla_wm_interfaces.msg import Embedding
from vla_wm_ros.control.model_runtime import load_model_runtime
from vla_wm_ros.latency import latency_summary
from vla_wm_ros.ros import diagnostics, qos
from vla_wm_ros.ros.callback_guard import GuardedCallbacks
from vla_wm_ros.ros.image_conversion import (
    ImageConversionError,
    backend,
    fit_to_size,
    image_to_rgb,
)
from vla_wm_ros.ros.node_main import run_node
from vla_wm_ros.ros.parameters import MODEL_PARAMETERS, Param, declare_parameters
from vla_wm_ros.ros.rejections import Rejections

PARAMETERS = [
    *MODEL_PARAMETERS,
    Param("resize", True, "resample frames of another size to the model input (else reject)"),
    Param("diagnostics_period", 1.0, "seconds between /diagnostics reports", low=0.1, high=60.0),
]


class CameraEncoder(GuardedCallbacks, Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("camera_encoder", **kwargs)
        self.p = declare_parameters(self, PARAMETERS)
        self._model = load_model_runtime(
            self.p.model_dir, self.p.device, self.p.backend, self.p.engine_cache
        )
        self._rejections = Rejections(self.get_logger())
        self._latency_ms: deque[float] = deque(maxlen=100)
        self._encoded = 0
        self._pub = self.create_publisher(Embedding, "~/embedding", qos.SENSOR)
        self.create_subscription(Image, "image", self._on_image, qos.SENSOR)
        self._diagnostics = diagnostics.Diagnostics(self, self._report, self.p.diagnostics_period)
        self.get_logger().info(
            f"encoder {self._model.encoder_id} on {self.p.device} "
            f"({self._model.units.backend} backend, {self.p.backend} requested), input "
            f"{self._model.image_size}x{self._model.image_size}, conversion: {backend()}"
        )

    def _on_image(self, msg: Image) -> None:
        start = time.monotonic()
        try:
            size = self._model.image_size
            rgb = fit_to_size(image_to_rgb(msg), size, size, self.p.resize)
        except ImageConversionError as exc:
            self._rejections.reject("image", str(exc))
            return
        features = self._model.image_features(rgb)
        out = Embedding(header=msg.header, encoder_id=self._model.encoder_id)
        out.data = features.astype(np.float32).tolist()
        self._pub.publish(out)
        self._encoded += 1
        self._latency_ms.append((time.monotonic() - start) * 1e3)

    def _report(self) -> diagnostics.Report:
        values = {"encoded": self._encoded, "conversion": backend(), **self._rejections.report()}
        if self._latency_ms:
            latency = latency_summary(self._latency_ms)
            values["latency_p50_ms"] = latency["p50_ms"]
            values["latency_p99_ms"] = latency["p99_ms"]
        if self._encoded == 0:
            return diagnostics.WARN, "no image encoded yet", values
        return diagnostics.OK, "encoding", values


NODE_CLASS = CameraEncoder


def main(args: list[str] | None = None) -> None:
    run_node(CameraEncoder, args)


if __name__ == "__main__":
    main()
