"""SD-Turbo component configs (real, from shared/spec/architectures.md §1) and
the tiny random-model configs used for the fixtures.  Written to disk by
make_sd_fixtures.py (configs/sd-turbo/ and tests/data/sd_fixtures/tiny_sd/)."""
import json
import os

# ---------------------------------------------------------------- real SD-Turbo
REAL_MODEL_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.24.0.dev0",
    "feature_extractor": [None, None],
    "requires_safety_checker": False,
    "safety_checker": [None, None],
    "scheduler": ["diffusers", "EulerDiscreteScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}

REAL_UNET = {
    "_class_name": "UNet2DConditionModel",
    "_diffusers_version": "0.24.0.dev0",
    "act_fn": "silu",
    "addition_embed_type": None,
    "addition_embed_type_num_heads": 64,
    "addition_time_embed_dim": None,
    "attention_head_dim": [5, 10, 20, 20],
    "attention_type": "default",
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "class_embed_type": None,
    "class_embeddings_concat": False,
    "conv_in_kernel": 3,
    "conv_out_kernel": 3,
    "cross_attention_dim": 1024,
    "cross_attention_norm": None,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "dropout": 0.0,
    "dual_cross_attention": False,
    "encoder_hid_dim": None,
    "encoder_hid_dim_type": None,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_only_cross_attention": None,
    "mid_block_scale_factor": 1,
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "num_attention_heads": None,
    "num_class_embeds": None,
    "only_cross_attention": False,
    "out_channels": 4,
    "projection_class_embeddings_input_dim": None,
    "resnet_out_scale_factor": 1.0,
    "resnet_skip_time_act": False,
    "resnet_time_scale_shift": "default",
    "reverse_transformer_layers_per_block": None,
    "sample_size": 64,
    "time_cond_proj_dim": None,
    "time_embedding_act_fn": None,
    "time_embedding_dim": None,
    "time_embedding_type": "positional",
    "timestep_post_act": None,
    "transformer_layers_per_block": 1,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "upcast_attention": None,
    "use_linear_projection": True,
}

REAL_VAE = {
    "_class_name": "AutoencoderKL",
    "_diffusers_version": "0.24.0.dev0",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "force_upcast": True,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 768,
    "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}

REAL_TEXT_ENCODER = {
    "architectures": ["CLIPTextModel"],
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "dropout": 0.0,
    "eos_token_id": 2,
    "hidden_act": "gelu",
    "hidden_size": 1024,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 4096,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "model_type": "clip_text_model",
    "num_attention_heads": 16,
    "num_hidden_layers": 23,
    "pad_token_id": 1,
    "projection_dim": 512,
    "torch_dtype": "float32",
    "vocab_size": 49408,
}

REAL_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler",
    "_diffusers_version": "0.24.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "set_alpha_to_one": False,
    "sigma_max": None,
    "sigma_min": None,
    "steps_offset": 1,
    "timestep_spacing": "trailing",
    "timestep_type": "discrete",
    "trained_betas": None,
    "use_karras_sigmas": False,
}


def _added(content):
    return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": True,
            "rstrip": False, "single_word": False}


# SD-2 family tokenizer: pad "!" (id 0), model_max_length 77 (architectures.md §1.6).
# "!" is written in BOTH files so every transformers version resolves pad_token_id 0.
REAL_TOKENIZER_CONFIG = {
    "add_prefix_space": False,
    "bos_token": _added("<|startoftext|>"),
    "do_lower_case": True,
    "eos_token": _added("<|endoftext|>"),
    "errors": "replace",
    "model_max_length": 77,
    "pad_token": "!",
    "tokenizer_class": "CLIPTokenizer",
    "unk_token": _added("<|endoftext|>"),
}

REAL_SPECIAL_TOKENS_MAP = {
    "bos_token": {"content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
    "eos_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
    "pad_token": "!",
    "unk_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
}

# ---------------------------------------------------------------- tiny fixtures
# Same family as SD-Turbo, tiny.  Channel widths (16, 32) with norm_num_groups 8
# (instead of the suggested (32, 64)/32 groups) keep all committed fixtures < 6 MB
# (the UNet is stored 3x: fp32, fp16, full-parameter gradients).  Head dim 8
# everywhere: attention_head_dim holds the number of heads per level (diffusers quirk).
TINY_UNET = dict(REAL_UNET)
TINY_UNET.update({
    "_diffusers_version": None,  # filled with the installed version on save
    "attention_head_dim": [2, 4],           # 16/2 = 32/4 = 8 = head dim
    "block_out_channels": [16, 32],
    "cross_attention_dim": 32,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 8,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
})

TINY_VAE = dict(REAL_VAE)
TINY_VAE.update({
    "_diffusers_version": None,
    "block_out_channels": [16, 32],
    "down_block_types": ["DownEncoderBlock2D"] * 2,
    "up_block_types": ["UpDecoderBlock2D"] * 2,
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 16,
})

# vocab_size 1024 (not 49408): a 49408 x 32 fp32 embedding alone is 6.3 MB.
# Real CLIP ids are mapped with  tiny_id = real_id % 1024  (test-only rule;
# bos 49406 -> 254, eos 49407 -> 255, pad 0 -> 0).
TINY_TEXT_VOCAB = 1024
TINY_TEXT_ENCODER = dict(REAL_TEXT_ENCODER)
TINY_TEXT_ENCODER.update({
    "bos_token_id": 49406 % TINY_TEXT_VOCAB,
    "eos_token_id": 49407 % TINY_TEXT_VOCAB,
    "pad_token_id": 0,
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_attention_heads": 4,
    "num_hidden_layers": 3,
    "projection_dim": 32,
    "vocab_size": TINY_TEXT_VOCAB,
    "transformers_version": None,
})

TINY_MODEL_INDEX = dict(REAL_MODEL_INDEX)
TINY_MODEL_INDEX["_diffusers_version"] = None


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def write_real_configs(root):
    write_json(os.path.join(root, "model_index.json"), REAL_MODEL_INDEX)
    write_json(os.path.join(root, "unet", "config.json"), REAL_UNET)
    write_json(os.path.join(root, "vae", "config.json"), REAL_VAE)
    write_json(os.path.join(root, "text_encoder", "config.json"), REAL_TEXT_ENCODER)
    write_json(os.path.join(root, "scheduler", "scheduler_config.json"), REAL_SCHEDULER)
    write_json(os.path.join(root, "tokenizer", "tokenizer_config.json"), REAL_TOKENIZER_CONFIG)
    write_json(os.path.join(root, "tokenizer", "special_tokens_map.json"), REAL_SPECIAL_TOKENS_MAP)
