"""flexconv.nn.Dropout: nn.Dropout's distribution and gradients, with fast CPU masks."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
from torch import nn

from flexconv.nn import Dropout, ReLUDropout
from flexconv.nn.dropout import keep_mask


@pytest.mark.parametrize("keep_prob", [0.1, 0.5, 0.9])
def test_keep_mask_has_the_asked_rate_and_no_pattern(keep_prob):
    torch.manual_seed(0)
    mask = keep_mask((4, 250_000), keep_prob)
    assert mask.dtype == torch.bool and mask.shape == (4, 250_000)
    n = mask.numel()
    tolerance = 5 * (keep_prob * (1 - keep_prob) / n) ** 0.5
    assert abs(mask.float().mean().item() - keep_prob) < tolerance
    # The four quarters of each 64-bit draw are used: each is kept at the rate, independently of the next.
    quarters = mask.flatten().float().view(-1, 4)
    for q in range(4):
        assert abs(quarters[:, q].mean().item() - keep_prob) < 4 * tolerance
        pair = quarters[:, q] * quarters[:, (q + 1) % 4]
        assert abs(pair.mean().item() - keep_prob**2) < 4 * tolerance


def test_seed_gives_the_same_mask_and_odd_sizes_work():
    torch.manual_seed(3)
    first = keep_mask((3, 5, 7), 0.7)
    torch.manual_seed(3)
    assert torch.equal(first, keep_mask((3, 5, 7), 0.7))
    assert not torch.equal(first, keep_mask((3, 5, 7), 0.7))


def test_training_output_and_gradient_follow_one_mask():
    torch.manual_seed(0)
    layer = Dropout(0.25).train()
    x = torch.randn(8, 16, 100, dtype=torch.float64, requires_grad=True)
    y = layer(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.75) < 0.02
    torch.testing.assert_close(y[kept], x[kept] / 0.75)
    (grad,) = torch.autograd.grad(y, x, torch.ones_like(y))
    torch.testing.assert_close(grad, kept.to(grad.dtype) / 0.75)


def test_eval_and_edge_probabilities_are_nn_dropout():
    x = torch.randn(4, 10)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert not Dropout(1.0).train()(x).any()
    assert isinstance(Dropout(0.1), nn.Dropout)


def test_relu_dropout_is_dropout_of_relu_and_keeps_only_its_output():
    torch.manual_seed(0)
    layer = ReLUDropout(0.3).train()
    x = torch.randn(6, 8, 50, dtype=torch.float64, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = layer(x)
    assert len(saved) == 1 and saved[0] is y  # no mask, no ReLU output besides y itself
    kept = y != 0
    assert not (kept & (x <= 0)).any()  # ReLU: negatives never pass
    positive = x > 0
    assert abs(kept[positive].float().mean().item() - 0.7) < 0.05
    torch.testing.assert_close(y[kept], x[kept] / 0.7)
    (grad,) = torch.autograd.grad(y, x, torch.ones_like(y))
    torch.testing.assert_close(grad, kept.to(grad.dtype) / 0.7)
    assert torch.equal(layer.eval()(x), torch.relu(x))


def test_keep_mask_operator_draws_keep_mask_and_has_a_fake():
    """flexconv::keep_mask (what torch.compile calls) draws exactly keep_mask's mask from the same generator state;
    its schema and fake (meta) implementation pass torch.library.opcheck."""
    x = torch.randn(5, 7, 9)
    torch.manual_seed(4)
    drawn = torch.ops.flexconv.keep_mask(x, 0.6)
    torch.manual_seed(4)
    assert torch.equal(drawn, keep_mask(x.shape, 0.6))
    assert torch.Tag.nondeterministic_seeded in torch.ops.flexconv.keep_mask.default.tags
    torch.library.opcheck(torch.ops.flexconv.keep_mask.default, (x, 0.6), test_utils=("test_schema", "test_faketensor"))


@pytest.mark.parametrize("layer", [Dropout(0.3), ReLUDropout(0.3)], ids=["Dropout", "ReLUDropout"])
def test_compiled_dropout_draws_eagers_masks(layer):
    """Under torch.compile(fullgraph=True) both layers give eager's output and gradient at the same seed."""
    torch._dynamo.reset()
    layer.train()
    x = torch.randn(4, 8, 33, dtype=torch.float64, requires_grad=True)
    results = []
    for fn in (layer, torch.compile(layer, fullgraph=True, backend="aot_eager")):
        torch.manual_seed(11)
        y = fn(x)
        (grad,) = torch.autograd.grad(y, x, torch.arange(y.numel(), dtype=y.dtype).view_as(y))
        results.append((y.detach(), grad))
    (y_eager, g_eager), (y_compiled, g_compiled) = results
    assert (y_eager == 0).any() and not torch.equal(y_eager, torch.relu(x.detach()) / 0.7)
    torch.testing.assert_close(y_compiled, y_eager, rtol=0, atol=1e-15)
    torch.testing.assert_close(g_compiled, g_eager, rtol=0, atol=1e-15)


def test_relu_operators_pass_opcheck():
    """flexconv::relu_masked_scale (ReLUDropout's and relu's compiled CPU path) and its backward operator pass
    torch.library.opcheck (schema, fake implementation, autograd registration), with and without a mask."""
    x = torch.randn(4, 3, 7, requires_grad=True)
    mask = torch.rand(4, 3, 7) < 0.7
    for args in [(x, mask, 1 / 0.7), (x, None, 1.0), (x, None, 2.0)]:
        torch.library.opcheck(torch.ops.flexconv.relu_masked_scale.default, args)
    grad, y = torch.randn(4, 3, 7), torch.relu(x.detach())
    for scale in (1.0, 1.5):
        torch.library.opcheck(torch.ops.flexconv.relu_masked_scale_backward.default, (grad, y, scale))


def test_compiled_relu_and_relu_dropout_keep_no_boolean_mask():
    """Under inductor, ReLUDropout and flexconv.nn.dropout.relu keep their float output for the backward: the
    generated CPU code allocates no boolean tensor (inductor's vectorised kernels write booleans about 25 times
    slower than ATen), and output and gradient equal eager's at the same seed."""
    from torch._inductor.utils import run_and_get_code

    from flexconv.nn.dropout import relu

    layer = ReLUDropout(0.3).train()

    def block(x: torch.Tensor) -> torch.Tensor:
        return relu(layer(x * 2.0) + x)

    x = torch.randn(4, 8, 33, requires_grad=True)
    weights = torch.randn(4, 8, 33)
    torch.manual_seed(3)
    y_eager = block(x)
    (g_eager,) = torch.autograd.grad(y_eager, x, weights)
    torch._dynamo.reset()
    compiled = torch.compile(block, fullgraph=True)

    def forward_backward() -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(3)
        y = compiled(x)
        (g,) = torch.autograd.grad(y, x, weights)
        return y, g

    (y_compiled, g_compiled), code = run_and_get_code(forward_backward)
    assert not any("torch.bool)" in source for source in code), "a boolean tensor in the compiled code"
    torch.testing.assert_close(y_compiled, y_eager, rtol=0, atol=0)
    torch.testing.assert_close(g_compiled, g_eager, rtol=1e-6, atol=1e-6)
