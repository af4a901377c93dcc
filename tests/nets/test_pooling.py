"""The CPU no-grad 2x2 max-pool returns exactly what PyTorch's max_pool2d returns."""

import pytest
import torch
import torch.nn.functional as F

from latentscape.nets.pooling import MaxPool2x2, max_pool_2x2


@pytest.mark.parametrize("shape", [(3, 4, 8, 8), (2, 3, 7, 9), (1, 1, 1, 1), (2, 5, 6, 3)])
def test_strided_form_equals_max_pool2d_in_ceil_mode(shape):
    x = torch.randn(*shape)
    x[0, 0, 0, 0] = float("nan")  # NaN propagates like max_pool2d
    expected = F.max_pool2d(x, 2, ceil_mode=True)
    torch.testing.assert_close(max_pool_2x2(x), expected, equal_nan=True, rtol=0, atol=0)


def test_module_uses_torch_kernel_when_a_gradient_flows_and_matches_it_without():
    pool = MaxPool2x2()
    x = torch.randn(2, 3, 6, 5, requires_grad=True)
    out = pool(x)
    assert out.grad_fn is not None and "MaxPool" in type(out.grad_fn).__name__
    out.sum().backward()
    torch.testing.assert_close(x.grad.sum(), torch.tensor(float(out.numel())))  # one winner per block
    with torch.no_grad():
        torch.testing.assert_close(pool(x), F.max_pool2d(x, 2, ceil_mode=True), rtol=0, atol=0)


def test_module_under_vmap_over_a_batch_of_inputs():
    xs = torch.randn(4, 2, 3, 5, 5)
    with torch.no_grad():
        out = torch.func.vmap(MaxPool2x2())(xs)
    torch.testing.assert_close(out, F.max_pool2d(xs.flatten(0, 1), 2, ceil_mode=True).view(4, 2, 3, 3, 3))
