"""Training and generation speed of `SignTranslationModel` (random weights, built from configs, no network).

    python benchmarks/model_speed.py                      # both sizes, CPU
    python benchmarks/model_speed.py --sizes tiny --device cuda

Measures training steps per second (forward + backward + AdamW step) and generation throughput (sequences per second,
greedy and beam search with 4 beams; every sequence is forced to the full `--target-tokens` length so that random
weights stopping early do not flatter the figure) on a fixed batch.
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import T5Config

from signdpo_trl.models import SignTranslationConfig, SignTranslationModel


def tiny_config() -> SignTranslationConfig:
    text_config = T5Config(
        vocab_size=512, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, decoder_start_token_id=0
    )
    return SignTranslationConfig(
        text_config=text_config,
        pose_embed_dim=32,
        spatial_channels=[32, 64],
        temporal_channels=[64],
        temporal_kernel_size=3,
    )


def mt5_small_sized_config() -> SignTranslationConfig:
    text_config = T5Config(
        vocab_size=32000,
        d_model=512,
        d_kv=64,
        d_ff=1024,
        num_layers=8,
        num_heads=6,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        decoder_start_token_id=0,
    )
    return SignTranslationConfig(text_config=text_config)  # default pose encoder: 64 -> [64, 128, 256] -> [256, 256]


SIZES = {"tiny": tiny_config, "mt5-small-sized": mt5_small_sized_config}


def make_batch(config: SignTranslationConfig, batch_size: int, num_frames: int, target_tokens: int, device):
    generator = torch.Generator().manual_seed(0)
    pose = torch.randn(batch_size, num_frames, config.num_joints, config.coord_dims + 1, generator=generator)
    pose_mask = torch.ones(batch_size, num_frames, dtype=torch.bool)
    pose_mask[batch_size // 2 :, num_frames * 3 // 4 :] = False  # some padding, as in a real batch
    labels = torch.randint(3, config.text_config.vocab_size, (batch_size, target_tokens), generator=generator)
    return pose.to(device), pose_mask.to(device), labels.to(device)


def synchronize(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, repeats: int, device: torch.device, warmup: int = 2) -> float:
    for _ in range(warmup):  # the first calls pay for kernel selection and allocator growth
        fn()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / repeats


def benchmark(name: str, args, device: torch.device) -> dict:
    torch.manual_seed(0)
    config = SIZES[name]()
    model = SignTranslationModel(config).to(device)
    pose, pose_mask, labels = make_batch(config, args.batch_size, args.frames, args.target_tokens, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train_step():
        loss = model(pose=pose, pose_mask=pose_mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.train()
    step_seconds = timed(train_step, args.train_steps, device)

    model.eval()
    generation = {}
    for label, num_beams in (("greedy", 1), ("beam4", 4)):

        def generate(num_beams=num_beams):
            model.generate(
                pose=pose,
                pose_mask=pose_mask,
                num_beams=num_beams,
                max_new_tokens=args.target_tokens,
                min_new_tokens=args.target_tokens,
            )

        generation[label] = args.batch_size / timed(generate, args.generate_repeats, device)
    return {
        "size": name,
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "pose_params_M": sum(p.numel() for p in model.pose_encoder.parameters()) / 1e6,
        "train_steps_s": 1.0 / step_seconds,
        "greedy_seq_s": generation["greedy"],
        "beam4_seq_s": generation["beam4"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--target-tokens", type=int, default=20)
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--generate-repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)

    print(
        f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} batch={args.batch_size} clips "
        f"x {args.frames} frames, {args.target_tokens} target tokens"
    )
    header = (
        f"{'size':<16} {'params (M)':>10} {'pose (M)':>9} {'train step/s':>13} {'greedy seq/s':>13} "
        f"{'beam4 seq/s':>12}"
    )
    print(header)
    print("-" * len(header))
    for name in args.sizes:
        row = benchmark(name, args, device)
        print(
            f"{row['size']:<16} {row['params_M']:>10.1f} {row['pose_params_M']:>9.2f} {row['train_steps_s']:>13.2f} "
            f"{row['greedy_seq_s']:>13.1f} {row['beam4_seq_s']:>12.1f}"
        )


if __name__ == "__main__":
    main()
