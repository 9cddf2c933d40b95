"""What each pipeline stage asks Ray for (CPUs, GPUs, memory, pool sizes, batch sizes) and
the defaults per stage; ``Settings.stages`` holds them, ``CLIPRAY_STAGES__<STAGE>__...``
overrides them. Apart from the settings object because the table of stages is long and
changes for its own reasons (a new stage, a new sizing)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StageResources(BaseModel):
    """What one pipeline stage asks Ray for. Frozen: a stage config is built once on the driver."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    num_cpus: float = 1.0
    """CPUs reserved per task or actor of the stage."""
    num_gpus: float = 0.0
    """GPUs per actor; a fraction lets several actors share one GPU."""
    pool_size: int = 1
    """Actors in the pool (model stages); ignored by task stages."""
    max_pool_size: int | None = None
    """Upper bound for an autoscaling pool; ``None`` keeps the pool at ``pool_size``."""
    batch_size: int = 16
    """Rows per ``map_batches`` call."""


def default_stages() -> dict[str, StageResources]:
    # Sized so that the whole analysis fits the smallest supported box (2 CPUs, no GPU):
    # the model pools hold 1.25 CPUs (1.5 with image embeddings) and the decode/audio tasks
    # share the rest; pools that took whole CPUs would starve the tasks that feed them (with
    # faces and embeddings at 0.5 each, the three pools held both CPUs and no window was
    # ever decoded). Faces and embeddings see 2 frames a second: a quarter CPU keeps up. A
    # window or an audio chunk is one row, so batches are small. On a GPU cluster raise
    # pool_size and set num_gpus per model stage (CLIPRAY_STAGES__ASR__NUM_GPUS=0.5 ...).
    return {
        "decode": StageResources(num_cpus=0.5, batch_size=1),
        "audio": StageResources(num_cpus=0.25, batch_size=1),
        "asr": StageResources(num_cpus=1, batch_size=4),
        "faces": StageResources(num_cpus=0.25, batch_size=1),
        "embed": StageResources(num_cpus=0.25, batch_size=1),
        # One FFmpeg encode per clip; libx264 uses more than one thread when it can. No GPU
        # unless configured: CLIPRAY_STAGES__RENDER__NUM_GPUS=0.25 puts renders on GPU
        # nodes, four sharing one GPU's NVENC engine (under the concurrent sessions a
        # consumer card allows; the filters and the audio still run on the CPU), and
        # CLIPRAY_RENDER_ENCODER=auto (or h264_nvenc) encodes there with NVENC.
        # At 0 a render reserves no GPU, but Ray leaves a node's GPUs visible to it
        # (RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO unset), so `auto` may still use NVENC on a GPU
        # node; CLIPRAY_RENDER_ENCODER=libx264 keeps renders off GPUs entirely.
        "render": StageResources(num_cpus=1, num_gpus=0, batch_size=1),
        # A job step is a coordinator: it submits the analysis and render work above, which
        # holds the CPUs. Reserving one here would deadlock a 2-CPU box.
        "job_step": StageResources(num_cpus=0, batch_size=1),
        # The all-intra proxy encode is one libx264 process per source; a stream-copy
        # export is I/O bound, a quarter CPU lets several run beside the analysis.
        "proxy": StageResources(num_cpus=1, batch_size=1),
        "export": StageResources(num_cpus=0.25, batch_size=1),
        # Sentence embeddings of transcript segments: MiniLM is small (22M parameters), a
        # batch of 64 segments takes a fraction of a second on one CPU.
        "text_embed": StageResources(num_cpus=0.5, batch_size=64),
        # A highlight reel re-encodes each part (libx264) and concatenates by copy.
        "reel": StageResources(num_cpus=1, batch_size=1),
        # The warm model services of the service path (serve/models.py): Serve replicas
        # that outlive jobs, so they hold their reservation while idle. Together they ask
        # for 0.8 CPU; where they start themselves they leave 2 CPUs of the cluster to jobs
        # (serve/models.py cpu_share: on a 2-CPU box they run unreserved), and the ASR
        # replica still runs its model with the ASR stage's thread count. pool_size and
        # max_pool_size bound each one's autoscaling replicas; on a GPU cluster give them
        # GPU fractions (CLIPRAY_STAGES__ASR_SERVICE__NUM_GPUS=0.5) and more replicas.
        "asr_service": StageResources(num_cpus=0.5, batch_size=1),
        "faces_service": StageResources(num_cpus=0.1, batch_size=1),
        "embed_service": StageResources(num_cpus=0.1, batch_size=1),
        "text_embed_service": StageResources(num_cpus=0.1, batch_size=1),
        # A webhook delivery is one small HTTP POST: it waits on the network, not a CPU.
        "webhook": StageResources(num_cpus=0.05, batch_size=1),
        # One worker actor per live stream: an FFmpeg ingest and the rolling analysis. Half
        # a CPU each lets a 2-CPU box watch a stream beside a job; on a cluster raise it so
        # that one heavy stream never starves another (and streams spread over nodes).
        "stream": StageResources(num_cpus=0.5, batch_size=1),
        # A publication attempt streams one clip file to a platform and polls its processing:
        # it waits on the network, so a small share lets several run on one core.
        "publish": StageResources(num_cpus=0.1, batch_size=1),
    }


__all__ = ["StageResources", "default_stages"]
