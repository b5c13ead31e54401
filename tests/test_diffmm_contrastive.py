"""InfoNCE against the direct formula of eq. 18-19 as the official code computes it."""

import math

import torch

from mmdiffbench.models.contrastive import info_nce


def _direct(a, b, nodes, tau):
    total = 0.0
    for n in nodes.tolist():
        cos = [float(torch.nn.functional.cosine_similarity(a[n], b[v], dim=0)) for v in range(len(b))]
        total += -math.log(math.exp(cos[n] / tau) / sum(math.exp(c / tau) for c in cos))
    return total / len(nodes)


def test_info_nce_matches_the_direct_formula_with_duplicate_anchors():
    torch.manual_seed(0)
    a, b = torch.randn(7, 5), torch.randn(7, 5)
    nodes = torch.tensor([3, 1, 3, 6, 0, 3])
    for tau in (0.1, 0.5, 1.0):
        assert float(info_nce(a, b, nodes, tau)) == __import__("pytest").approx(_direct(a, b, nodes, tau), rel=1e-5)


def test_info_nce_gradient_equals_the_duplicated_computation():
    torch.manual_seed(1)
    a = torch.randn(6, 4, requires_grad=True)
    b = torch.randn(6, 4, requires_grad=True)
    nodes = torch.tensor([2, 2, 5, 0])
    info_nce(a, b, nodes, 0.5).backward()
    grads = a.grad.clone(), b.grad.clone()
    a.grad = b.grad = None
    an, bn = torch.nn.functional.normalize(a, dim=-1), torch.nn.functional.normalize(b, dim=-1)
    logits = an[nodes] @ bn.T / 0.5
    (torch.logsumexp(logits, -1) - logits[torch.arange(4), nodes]).mean().backward()
    torch.testing.assert_close(grads[0], a.grad)
    torch.testing.assert_close(grads[1], b.grad)


def test_bf16_products_stay_close_to_float32_in_value_and_gradient():
    torch.manual_seed(2)
    a = torch.randn(300, 16, requires_grad=True)
    b = torch.randn(300, 16, requires_grad=True)
    nodes = torch.randint(0, 300, (128,))
    results = {}
    for dtype in (torch.float32, torch.bfloat16):
        a.grad = b.grad = None
        loss = info_nce(a, b, nodes, 0.2, dtype)
        loss.backward()
        results[dtype] = (float(loss.detach()), a.grad.clone(), b.grad.clone())
    exact, low = results[torch.float32], results[torch.bfloat16]
    assert abs(low[0] - exact[0]) < 0.01 * abs(exact[0])
    for g_low, g_exact in zip(low[1:], exact[1:]):
        assert float((g_low - g_exact).norm() / g_exact.norm()) < 0.02


def test_a_positive_whose_weight_underflows_still_gives_the_exact_value():
    """At tau = 0.005 an anchor opposite to its own target has softmax weight exp(-400) = 0 there:
    the log-sum-exp must then come from another column, and match float64 logsumexp."""
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = torch.tensor([[-1.0, 0.0], [0.0, 1.0], [1.0, 0.2]])
    nodes = torch.tensor([0, 1, 2])
    tau = 0.005
    an, bn = (torch.nn.functional.normalize(x.double(), dim=-1) for x in (a, b))
    logits = an @ bn.T / tau
    expected = (torch.logsumexp(logits, -1) - logits.diagonal()).mean()
    assert torch.softmax(logits.float(), -1)[0, 0] == 0  # the case under test
    assert float(info_nce(a, b, nodes, tau)) == __import__("pytest").approx(float(expected), rel=1e-5)
