"""Instruction grounding by a vision-language model that sees the camera frame.

The VLM answers a multiple-choice question: the instruction, the suite's tasks as
lettered options (their canonical instructions) and a last option "none of these". The
answer is read from one forward pass: the next-token logits of the option letters, turned
into a distribution over options. Scoring the options instead of parsing free text means
the answer is always one of the suite's tasks or a refusal, costs one forward pass, and
gives a confidence. The goal embedding of an accepted task is the goal-space encoder's
vector of the task's canonical instruction: the world model's goal space is the sentence
encoder's, not the VLM's (`goal_space.py` checks that encoder against the checkpoint).

Any transformers image-text-to-text model directory works (SmolVLM/Idefics3, PaliGemma,
Qwen2-VL, LLaVA class): it is loaded with AutoProcessor + AutoModelForImageTextToText
from the local path only (`local_files_only`; no hub access), on CPU or CUDA, in the
precision `dtype` names.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_wm_ros.config.loader import ConfigError
from vla_wm_ros.language.encoder import SentenceEncoder
from vla_wm_ros.language.grounding import Grounding
from vla_wm_ros.language.suite import TaskSuite
from vla_wm_ros.language.text_check import normalise, rejection_reason
from vla_wm_ros.language.threads import torch_threads

DTYPES = ("float32", "bfloat16", "float16")
NONE_OPTION = "none of these: the instruction asks for no listed task, or not in this scene"
PROMPT = (
    "You control a robot arm. Look at the camera image and choose the task the "
    'instruction asks for.\nInstruction: "{instruction}"\nTasks:\n{options}\n'
    "Answer with the letter of one task."
)


@dataclass
class VLMConfig:
    # A local transformers image-text-to-text model directory (required for backend vlm).
    model_dir: Path | None = None
    device: str = "cpu"  # cpu | cuda | cuda:N
    # Weights and activations precision: float32 | bfloat16 | float16 (float16 on CUDA only).
    dtype: str = "float32"
    # Refuse when the best task has less probability than this among the options.
    min_confidence: float = 0.4
    # torch threads on the CPU (0 keeps torch's setting).
    num_threads: int = 1

    def validate(self) -> None:
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError(f"device must be cpu, cuda or cuda:N, got {self.device!r}")
        if self.dtype == "float16" and self.device == "cpu":
            raise ConfigError("dtype float16 needs a CUDA device; use bfloat16 or float32 on cpu")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"min_confidence must be in [0, 1], got {self.min_confidence}")
        if self.num_threads < 0:
            raise ConfigError(f"num_threads must be >= 0, got {self.num_threads}")

    def resolved_dir(self) -> Path:
        if self.model_dir is None or not str(self.model_dir):
            raise ConfigError("vlm.model_dir: backend vlm needs a local model directory")
        path = Path(self.model_dir)
        if not (path / "config.json").is_file():
            raise ConfigError(f"vlm.model_dir {path}: not a transformers model (no config.json)")
        return path


def _letter_tokens(tokenizer, letters: str) -> list[list[int]]:
    """Token ids that start each letter's answer ("A" and " A"); refuses letters that share one."""
    ids: list[list[int]] = []
    for letter in letters:
        first = {
            pieces[0]
            for text in (letter, f" {letter}")
            if (pieces := tokenizer.encode(text, add_special_tokens=False))
        }
        ids.append(sorted(first))
    flat = [t for group in ids for t in group]
    if len(flat) != len(set(flat)):
        raise ConfigError("the VLM's tokenizer does not give each option letter its own token")
    return ids


class VLMGrounder:
    """Grounds (instruction, camera frame) to a task of the suite with a local VLM."""

    def __init__(self, config: VLMConfig, suite: TaskSuite, goal_encoder: SentenceEncoder) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor
        from transformers.utils import logging as hf_logging

        config.validate()
        self.config = config
        self.model_dir = config.resolved_dir()
        if len(suite.names) + 1 > len(string.ascii_uppercase):
            raise ConfigError(f"the VLM prompt holds at most 25 tasks, not {len(suite.names)}")
        hf_logging.disable_progress_bar()
        self._torch = torch
        self.dtype = getattr(torch, config.dtype)
        self.device = torch.device(config.device)
        self.processor = AutoProcessor.from_pretrained(self.model_dir, local_files_only=True)
        with torch_threads(config.num_threads):
            model = AutoModelForImageTextToText.from_pretrained(
                self.model_dir, local_files_only=True, dtype=self.dtype
            )
        self.model = model.to(self.device).eval()
        self.task_names = list(suite.names)
        self.letters = string.ascii_uppercase[: len(self.task_names) + 1]
        options = [suite.task(n).canonical for n in self.task_names] + [NONE_OPTION]
        self.options = "\n".join(f"{L}. {o}" for L, o in zip(self.letters, options, strict=True))
        self._letter_ids = _letter_tokens(self.processor.tokenizer, self.letters)
        self.goal_encoder = goal_encoder
        canonical = [suite.task(n).canonical for n in self.task_names]
        self.task_goals = goal_encoder.embed(canonical)
        self.dim = goal_encoder.dim

    def prompt(self, text: str) -> str:
        question = PROMPT.format(instruction=text, options=self.options)
        if getattr(self.processor, "chat_template", None):
            messages = [
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}
            ]
            return self.processor.apply_chat_template(messages, add_generation_prompt=True)
        return question  # processors without a chat template (PaliGemma) place the image

    def option_probabilities(self, text: str, image: np.ndarray) -> np.ndarray:
        """(tasks + 1,) probabilities of each option letter; the last is "none of these"."""
        from PIL import Image

        torch = self._torch
        prompt = self.prompt(text)
        templated = getattr(self.processor, "chat_template", None) is not None
        extra = {"add_special_tokens": False} if templated else {}
        inputs = self.processor(
            text=prompt, images=[Image.fromarray(image)], return_tensors="pt", **extra
        )
        inputs = {
            k: v.to(self.device, self.dtype if v.is_floating_point() else v.dtype)
            for k, v in inputs.items()
        }
        with torch_threads(self.config.num_threads), torch.inference_mode():
            logits = self.model(**inputs).logits[0, -1].float()
        scores = torch.stack([logits[ids].logsumexp(0) for ids in self._letter_ids])
        return torch.softmax(scores, 0).cpu().numpy()

    def _refuse(self, reason: str, confidence: float = 0.0) -> Grounding:
        return Grounding(None, confidence, np.zeros(self.dim, np.float32), False, reason)

    def ground(self, text: str, image: np.ndarray | None = None) -> Grounding:
        problem = rejection_reason(text)
        if problem is not None:
            return self._refuse(problem)
        if image is None:
            return self._refuse("no current camera frame: the VLM grounds what the robot sees")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            return self._refuse(f"camera frame must be HxWx3 uint8: {image.shape} {image.dtype}")
        probs = self.option_probabilities(normalise(text), image)
        best = int(probs.argmax())
        confidence = float(probs[best])
        if best == len(self.task_names):
            return self._refuse(
                f"the VLM sees no task of the suite in this instruction and scene "
                f"(none of these: {confidence:.2f})",
                confidence,
            )
        name = self.task_names[best]
        if confidence < self.config.min_confidence:
            other = [*self.task_names, "none of these"][int(np.argsort(probs)[-2])]
            return self._refuse(
                f"ambiguous: {name} has confidence {confidence:.2f} < "
                f"{self.config.min_confidence:.2f} (next: {other})",
                confidence,
            )
        return Grounding(
            name,
            confidence,
            self.task_goals[best].copy(),
            True,
            f"grounded to {name} by the VLM (confidence {confidence:.2f})",
        )
