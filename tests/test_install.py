"""What installing clipray put in the environment: no CUDA on a CPU machine."""

import importlib.metadata as md
import shutil

import pytest

pytestmark = pytest.mark.unit


def test_no_cuda_packages_were_installed():
    names = {(d.metadata["Name"] or "").lower() for d in md.distributions()}
    # nvidia-ml-py is the NVML query library (Ray's dashboard reads GPU stats with it),
    # not CUDA itself.
    cuda = sorted(n for n in names if n.startswith(("nvidia-", "cuda-")) and n != "nvidia-ml-py")
    if shutil.which("nvidia-smi"):
        pytest.skip("a GPU machine may carry CUDA packages on purpose")
    assert cuda == []


def test_torch_is_the_pinned_cpu_build_when_the_ml_extra_is_installed():
    torch = pytest.importorskip("torch", reason="the ml extra is not installed")
    assert torch.__version__.startswith("2.13.0")
    if not shutil.which("nvidia-smi"):
        assert torch.version.cuda is None
