"""Long random-mutation fuzz of intake (bit flips, truncations, overwritten and deleted spans) over every format.

Counts calls that raised anything other than an IntakeError ("bad") or took over 2 s ("slow").

    python benchmarks/io_fuzz_long.py SEED SECONDS
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _imagegen import all_format_samples  # noqa: E402
from pixelsleuth.errors import IntakeError  # noqa: E402
from pixelsleuth.io import IntakeLimits, load_image  # noqa: E402


def mutate(b: bytearray, rng: random.Random) -> bytes:
    op = rng.randrange(4)
    if op == 0:
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif op == 1:
        b = b[: rng.randrange(len(b))]
    elif op == 2:
        i = rng.randrange(len(b))
        b[i : i + 8] = bytes(rng.randrange(256) for _ in range(8))
    else:
        i = rng.randrange(len(b))
        b = b[:i] + b[i + rng.randint(1, 50) :]
    return bytes(b)


def main() -> None:
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
    samples = {f"{k}#{s}": v for s in range(3) for k, v in all_format_samples(s).items()}
    names = sorted(samples)
    rng = random.Random(seed)
    bad: dict[tuple[str, str, str], bytes] = {}
    slow = n = accepted = 0
    limits = IntakeLimits(max_pixels=20_000_000)
    t_end = time.time() + seconds
    while time.time() < t_end:
        name = rng.choice(names)
        data = mutate(bytearray(samples[name]), rng)
        t0 = time.time()
        n += 1
        try:
            load_image(data, limits)
            accepted += 1
        except IntakeError:
            pass
        except BaseException as e:  # noqa: BLE001 - that is what we are looking for
            key = (name.split("#")[0], type(e).__name__, str(e)[:80])
            if key not in bad:
                bad[key] = data
                print("BAD", key, flush=True)
                traceback.print_exc()
        dt = time.time() - t0
        if dt > 2:
            slow += 1
            print("SLOW", name, round(dt, 2), flush=True)
    print(
        f"done: {n} mutated files, {accepted} decoded, {len(bad)} kinds of untyped failure, {slow} slower than 2 s"
    )


if __name__ == "__main__":
    main()
