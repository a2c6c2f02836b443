"""Continuous normalizing flows: traces against autograd, Hutchinson's estimator against its mean
and variance, log-densities against closed forms, the flow map's volume against the integrated
trace, failed solves reported, seeded and resumable training, toy densities, config errors."""

import math

import numpy as np
import pytest
import torch
import yaml
from scipy import integrate as quad

from figureflow.generative import cnf
from figureflow.generative.settings import CNF_DEFAULTS, check_cnf_config
from figureflow.generative.toys import KNOWN_DENSITY, TOYS, standardize, toy_log_density, toy_sample
from figureflow.generative.training import init_weights
from figureflow.io import InputError

TIGHT = {"solver": "dopri5", "rtol": 1e-8, "atol": 1e-8, "step_size": 0.125, "adjoint": False, "max_steps": 10000}


def small_field(conditioning="concatsquash", activation="tanh", dim=3, seed=0, fourier=0):
    options = {**CNF_DEFAULTS, "hidden": [16, 12], "conditioning": conditioning, "activation": activation, "fourier_features": fourier, "fourier_scale": 2.0}
    return cnf.build_field(dim, options, seed).double()


def autograd_jacobians(field, t, z):
    return torch.stack([torch.autograd.functional.jacobian(lambda u: field(t, u[None])[0], row) for row in z])


@pytest.mark.parametrize("fourier", [0, 5])
@pytest.mark.parametrize("conditioning", ["concat", "concatsquash"])
@pytest.mark.parametrize("activation", ["tanh", "softplus", "silu"])
def test_exact_trace_and_tangents_equal_the_autograd_jacobian(conditioning, activation, fourier):
    field = small_field(conditioning, activation, fourier=fourier)
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    t = torch.tensor(0.37, dtype=torch.float64)
    J = autograd_jacobians(field, t, z)
    f, trace = field.divergence(t, z)
    assert torch.equal(f, field(t, z))
    np.testing.assert_allclose(trace.detach().numpy(), torch.diagonal(J, dim1=1, dim2=2).sum(-1).detach().numpy(), rtol=1e-12, atol=1e-13)
    V = torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)  # 2 tangents per row
    np.testing.assert_allclose(field.jvp(t, z, V)[1].detach().numpy(), torch.einsum("bij,kbj->kbi", J, V).detach().numpy(), rtol=1e-12, atol=1e-13)
    per_row_times = torch.full((6,), 0.37, dtype=torch.float64)
    # one time per row takes the fused [h, t] product: the same sums in another order
    np.testing.assert_allclose(field(per_row_times, z).detach().numpy(), f.detach().numpy(), rtol=1e-14, atol=1e-16)


def test_hutchinson_mean_is_the_exact_trace_within_three_standard_errors_and_rademacher_varies_less():
    field = small_field(dim=4)
    z = torch.randn(1, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64).expand(20000, 4)
    t = torch.tensor(0.6, dtype=torch.float64)
    exact = field.divergence(t, z[:1])[1].detach()
    A = autograd_jacobians(field, t, z[:1])[0]
    S = 0.5 * (A + A.T)
    closed = {"gaussian": 2 * float((S**2).sum()), "rademacher": 2 * float((S**2).sum() - (torch.diagonal(S) ** 2).sum())}
    variance = {}
    for kind in ("rademacher", "gaussian"):
        noise = cnf.hutchinson_noise(z.shape, kind, torch.Generator().manual_seed(4), z)
        _, estimates = field.divergence(t, z, noise)
        estimates = estimates.detach()
        se = float(estimates.std()) / math.sqrt(len(estimates))
        assert abs(float(estimates.mean()) - float(exact)) <= 3 * se
        variance[kind] = float(estimates.var())
        assert variance[kind] == pytest.approx(closed[kind], rel=0.05)  # the sample variance of 20000 draws
    assert variance["rademacher"] <= variance["gaussian"]
    assert closed["rademacher"] <= closed["gaussian"]


class LinearField(torch.nn.Module):
    """``f(z, t) = A z``: the flow is ``x = expm(A) z0``, ``log p(x) = log N(expm(-A) x) - Tr A``."""

    def __init__(self, A):
        super().__init__()
        self.A, self.dim = A, A.shape[0]

    def forward(self, t, z):
        return z @ self.A.T

    def divergence(self, t, z, noise=None):
        f = self.forward(t, z)
        if noise is None:
            return f, torch.full((z.shape[0],), float(torch.trace(self.A)), dtype=z.dtype)
        return f, ((noise @ self.A.T) * noise).sum(1)


def test_log_density_and_samples_of_a_linear_flow_match_the_closed_form():
    A = torch.tensor([[0.3, -0.8], [0.5, -0.1]], dtype=torch.float64)
    field = LinearField(A)
    x = torch.tensor([[0.2, -1.0], [1.5, 0.7], [0.0, 0.0]], dtype=torch.float64)
    logp, nfe = cnf.log_density(field, x, TIGHT)
    z0 = x @ torch.linalg.matrix_exp(-A).T
    expected = cnf.standard_normal_log_density(z0) - torch.trace(A)
    np.testing.assert_allclose(logp.detach().numpy(), expected.detach().numpy(), rtol=1e-7)
    assert nfe > 0
    states, logp_t = cnf.sample(field, z0, [0.0, 0.5, 1.0], TIGHT)
    np.testing.assert_allclose(states[-1].detach().numpy(), x.detach().numpy(), atol=1e-7)
    np.testing.assert_allclose(states[1].detach().numpy(), (z0 @ torch.linalg.matrix_exp(0.5 * A).T).detach().numpy(), atol=1e-7)
    np.testing.assert_allclose(logp_t[-1].detach().numpy(), expected.detach().numpy(), rtol=1e-7)


class CubicField(torch.nn.Module):
    """``f(z) = -|z|^2 z``: contracting forward, so an inverse path from ``|x| > 1/sqrt(2)`` blows
    up before ``t = 0`` (``|z|^2 = |x|^2 / (1 - 2 |x|^2 (1 - t))``); ``Tr df/dz = -(D + 2) |z|^2``."""

    def forward(self, t, z):
        return -(z * z).sum(1, keepdim=True) * z

    def divergence(self, t, z, noise=None):
        return self.forward(t, z), -(z.shape[1] + 2) * (z * z).sum(1)


def test_inverse_paths_that_leave_the_ball_are_minus_infinity_and_the_others_are_the_plain_solve():
    field = CubicField()
    r0 = torch.tensor([0.1, 0.3, 0.5, 0.65, 0.70, 0.8, 1.5, 3.0], dtype=torch.float64)
    x = torch.stack([r0 * math.cos(0.4), r0 * math.sin(0.4)], dim=1)
    with pytest.raises(cnf.ODESolveError):  # the rows from |x| > 0.707 blow up: the plain solve fails
        cnf.log_density(field, x, TIGHT)
    radius = 4.0
    end = r0**2 / (1 - 2 * r0**2)  # |z(0)|^2 where finite
    inside = (r0**2 < 0.5) & (end < radius**2)  # 0.1 .. 0.65 stay in; 0.70 ends at |z| = 4.95; the rest blow up
    assert inside.tolist() == [True, True, True, True, False, False, False, False]
    assert torch.equal(cnf.leaves_ball(field, x, TIGHT, radius), ~inside)
    logp, nfe = cnf.log_density(field, x, TIGHT, radius=radius)
    assert torch.isneginf(logp[~inside]).all() and nfe < 2000
    plain, _ = cnf.log_density(field, x[inside], TIGHT)
    np.testing.assert_allclose(logp[inside].numpy(), plain.numpy(), rtol=1e-7)
    # and the closed form: log N(z(0)) - int_0^1 (D + 2) |z(t)|^2 dt, |z(t)|^2 = r^2 / (1 - 2 r^2 (1 - t))
    r2 = r0[inside] ** 2
    closed = -0.5 * end[inside] - math.log(2 * math.pi) + 4 * (-0.5 * torch.log(1 - 2 * r2))
    np.testing.assert_allclose(logp[inside].numpy(), closed.numpy(), rtol=1e-6)


@pytest.mark.parametrize("fourier", [0, 4])
def test_the_flow_maps_volume_is_the_exponential_of_its_integrated_trace(fourier):
    field = small_field(dim=2, seed=5, fourier=fourier)
    with torch.no_grad():
        field.layers[-1].linear.weight.mul_(8.0)  # a strong field: volumes far from 1
    options = {**CNF_DEFAULTS, "nll_rtol": 1e-8, "nll_atol": 1e-8}
    flow = cnf.FlowMap(field, options)
    Z = np.random.default_rng(6).standard_normal((50, 2))
    volume = flow.volume_elements(Z)  # det of the Jacobian of the solve, by reverse mode
    _, logp = cnf.sample(flow.field, torch.as_tensor(Z), [0.0, 1.0], flow.solver)
    integrated = np.exp(cnf.standard_normal_log_density(torch.as_tensor(Z)).detach().numpy() - logp[-1].detach().numpy())  # exp(int Tr df/dz dt)
    np.testing.assert_allclose(volume, integrated, rtol=1e-6)
    assert np.ptp(np.log(volume)) > 0.15  # log-volumes spread far beyond the tolerance: the map is not volume-preserving: the check has teeth
    one_by_one = np.stack([flow(torch.as_tensor(z)).detach().numpy() for z in Z[:3]])  # own step sizes: equal to the tolerance
    np.testing.assert_allclose(flow.batch(Z[:3]), one_by_one, rtol=1e-6)


def tight_push(flow, Z):
    """The flow map by a solve at 1e-12, on its own (the truth its Jacobian is checked against)."""
    solver = {**flow.solver, "rtol": 1e-12, "atol": 1e-12}
    with torch.no_grad():
        return cnf.integrate(cnf._Dynamics(flow.field, with_trace=False), torch.as_tensor(Z), torch.tensor([0.0, 1.0], dtype=torch.float64), solver)[-1].numpy()


def test_the_flow_maps_jacobian_is_the_flows_to_the_solves_tolerance():
    """Central differences of a solve at 1e-12 (step 1e-5: error about 1e-10) are the truth. The
    variational equations, solved with the flow at the evaluation tolerance 1e-6, meet it to a few
    times that (measured: 7e-6 on x, 2e-5 on J, whose entries reach 1.2)."""
    field = small_field(dim=2, seed=5)
    with torch.no_grad():
        field.layers[-1].linear.weight.mul_(8.0)
    flow = cnf.FlowMap(field, {**CNF_DEFAULTS, "nll_rtol": 1e-6, "nll_atol": 1e-6})
    Z = np.random.default_rng(7).standard_normal((40, 2)) * 1.5
    X, J = flow.jacobians(Z)
    h = 1e-5
    truth = np.stack([(tight_push(flow, Z + h * e) - tight_push(flow, Z - h * e)) / (2 * h) for e in np.eye(2)], axis=2)
    np.testing.assert_allclose(X, tight_push(flow, Z), rtol=0, atol=3e-5)
    np.testing.assert_allclose(J, truth, rtol=0, atol=1e-4)
    assert np.abs(truth - truth.transpose(0, 2, 1)).max() > 0.1  # not symmetric: a transposed J would fail
    np.testing.assert_array_equal(flow.volume_elements(Z), np.abs(np.linalg.det(J)))
    np.testing.assert_array_equal(cnf.flow_jacobians(flow, Z), J)
    assert flow.check(Z) < 1e-4  # Liouville: log|det J| is the integrated trace


def test_blocks_of_the_flow_maps_jacobians_are_separate_solves():
    """A row's Jacobian depends on the steps its block took: the blocks are fixed by FLOW_BLOCK,
    not by the sample count, and one call over many blocks equals the blocks one by one."""
    flow = cnf.FlowMap(small_field(dim=2, seed=3), {**CNF_DEFAULTS, "nll_rtol": 1e-6, "nll_atol": 1e-6})
    Z = np.random.default_rng(1).standard_normal((10, 2))
    together = flow.volume_elements(Z, block=4)
    np.testing.assert_array_equal(together, np.concatenate([flow.volume_elements(Z[s : s + 4], block=4) for s in (0, 4, 8)]))
    assert cnf.FLOW_BLOCK == 4096


def test_a_solve_too_coarse_for_the_flow_fails_the_liouville_check_by_name():
    field = small_field(dim=2, seed=5)
    with torch.no_grad():
        field.layers[-1].linear.weight.mul_(8.0)
    coarse = cnf.FlowMap(field, {**CNF_DEFAULTS, "nll_solver": "euler", "step_size": 0.5, "nll_rtol": 1e-6, "nll_atol": 1e-6})
    Z = np.random.default_rng(7).standard_normal((16, 2))
    assert np.max(np.abs(coarse.liouville_gap(Z))) > 0.01
    with pytest.raises(cnf.RunError, match=r"CNF map moons_flow: at z = \[.*\] log\|det J\| .* differ by .* nats \(tolerance 0.001\); the euler solve .*tighten the run's nll_rtol"):
        coarse.check(Z, "moons_flow")


class Exploding(torch.nn.Module):
    """``dz/dt = z^2`` blows up at ``t = 1/z0``; with a NaN weight, every evaluation is NaN."""

    def __init__(self, nan=False):
        super().__init__()
        self.nan, self.nfe = nan, 0

    def forward(self, t, z):
        self.nfe += 1
        return z * math.nan if self.nan else z * z


@pytest.mark.parametrize("nan", [False, True])
def test_a_solve_that_blows_up_or_turns_nan_raises_ode_solve_error(nan):
    z0 = torch.tensor([[2.0]], dtype=torch.float64)  # blow-up at t = 0.5
    with pytest.raises(cnf.ODESolveError, match=r"dopri5 solve from t=0 to t=1 \(rtol 1e-08.*evaluations"):
        cnf.integrate(Exploding(nan), z0, torch.tensor([0.0, 1.0], dtype=torch.float64), TIGHT)


def test_a_solve_past_its_step_budget_and_a_fixed_step_overflow_raise():
    z0 = torch.tensor([[2.0]], dtype=torch.float64)
    with pytest.raises(cnf.ODESolveError, match="max_num_steps"):
        cnf.integrate(Exploding(), z0, torch.tensor([0.0, 0.45], dtype=torch.float64), {**TIGHT, "max_steps": 5})
    with pytest.raises(cnf.ODESolveError, match="non-finite"):
        cnf.integrate(Exploding(), z0 * 40, torch.tensor([0.0, 1.0], dtype=torch.float64), {**TIGHT, "solver": "rk4", "step_size": 0.25})


def test_adjoint_gradients_equal_gradients_through_the_solver():
    field = small_field(dim=2, seed=7)
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        field.zero_grad()
        logp, _ = cnf.log_density(field, x, {**TIGHT, "adjoint": adjoint})
        (-logp.mean()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in field.parameters()]).clone())
    relative = float(torch.linalg.norm(grads[1] - grads[0]) / torch.linalg.norm(grads[0]))
    assert relative < 1e-5  # both solves at rtol 1e-8: the gradients agree to the solver's accuracy, not exactly
    assert float(torch.linalg.norm(grads[0])) > 1e-3


def tiny_options(**changes):
    return {**CNF_DEFAULTS, "data": "moons", "size": 600, "hidden": [24, 24], "iterations": 60, "batch_size": 100, "warm_start": 40,
            "solver": "rk4", "step_size": 0.25, "evaluate_every": 20, "nll_rtol": 1e-5, "nll_atol": 1e-5, "device": "cpu", **changes}


def test_training_is_the_same_for_a_seed_and_resumes_exactly(tmp_path):
    data = cnf.training_data(tiny_options(), 0, "tiny")
    options = tiny_options(lr_schedule="cosine", trace="hutchinson")
    first, history, _ = cnf.train_cnf(data["x"], options, 0, "tiny", progress=False)
    again, history_again, _ = cnf.train_cnf(data["x"], options, 0, "tiny", progress=False)
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert history.equals(history_again)
    # 540 training rows in minibatches of 100: 6 steps an epoch, the warm start's 40 end inside epoch 7
    assert history["iteration"].tolist() == [6, 12, 18, 24, 30, 36, 42, 48, 54, 60]
    assert history["flow_matching"].notna().tolist() == [True] * 7 + [False] * 3 and history["nll"].notna().tolist() == [False] * 6 + [True] * 4
    assert history["held_out_loss"].notna().tolist() == [False, False, True] * 3 + [True]  # every 20 iterations: every 3rd epoch, and the last
    # stop after 5 epochs (in the warm start), then resume into the maximum-likelihood phase
    checkpoint = tmp_path / "checkpoint.pt"

    class Stop(Exception):
        pass

    def stop(epoch, row, field):
        if epoch == 5:
            raise Stop

    with pytest.raises(Stop):
        cnf.train_cnf(data["x"], options, 0, "tiny", checkpoint=checkpoint, progress=False, on_epoch=stop, checkpoint_seconds=0)
    before = torch.load(checkpoint, weights_only=False)
    assert before["epoch"] == 5  # written after every epoch: resumed from the 5th
    resumed, history_resumed, info = cnf.train_cnf(data["x"], options, 0, "tiny", checkpoint=checkpoint, progress=False, checkpoint_seconds=1e9)
    after = torch.load(checkpoint, weights_only=False)
    assert after["epoch"] == 10  # none between, the last one written
    # the training time counts the 5 epochs before the stop: a resumed run does not report only its tail
    assert 0 < before["seconds"] < after["seconds"] == info["seconds"]
    for a, b in zip(first.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert history_resumed.equals(history)
    other, _, _ = cnf.train_cnf(data["x"], options, 1, "tiny", progress=False)
    assert not torch.equal(next(iter(other.state_dict().values())), next(iter(first.state_dict().values())))


def test_flow_matching_on_a_gaussian_reaches_its_entropy():
    """A flow fitted to N(m, diag(s^2)) by flow matching: held-out NLL near the Gaussian's own."""
    rng = np.random.default_rng(9)
    m, s = np.array([1.0, -0.5]), np.array([0.5, 1.5])
    x = m + s * rng.standard_normal((3000, 2))
    options = {**CNF_DEFAULTS, "objective": "flow_matching", "hidden": [32, 32], "iterations": 3000, "batch_size": 256,
               "lr_schedule": "cosine", "learning_rate": 3e-3, "solver": "rk4", "step_size": 0.25, "evaluate_every": 500, "device": "cpu"}
    field, _, info = cnf.train_cnf(x, options, 0, "gauss", progress=False)
    held = x[info["held_rows"]]
    score = cnf.held_out_nll(field, held, {**options, "nll_rtol": 1e-5, "nll_atol": 1e-5})
    true = -np.mean(-0.5 * (((held - m) / s) ** 2).sum(1) - np.log(s).sum() - math.log(2 * math.pi))
    assert abs(score["nll"] - true) < 0.02  # 300 held-out points: the true NLL's own standard error is 0.04


def test_a_learned_toy_density_integrates_to_one_on_a_grid():
    data = cnf.training_data(tiny_options(), 0, "tiny")
    field, _, _ = cnf.train_cnf(data["x"], tiny_options(), 0, "tiny", progress=False)
    axis, logp = cnf.density_grid(field, tiny_options(), extent=4.5, size=90)  # the figure's solve, 1e-4
    h = axis[1] - axis[0]
    assert np.exp(logp).sum() * h * h == pytest.approx(1.0, abs=0.02)
    assert np.exp(logp).max() > 3 * np.exp(logp).mean()  # it learnt something: not a flat blob
    _, tight = cnf.density_grid(field, tiny_options(), extent=4.5, size=90, tolerance=1e-7)
    assert np.abs(np.exp(logp) - np.exp(tight)).max() < 1e-3 * np.exp(tight).max()  # the picture's solve is close enough


@pytest.mark.parametrize("name", KNOWN_DENSITY)
def test_toy_log_densities_integrate_to_one_and_match_a_histogram_of_samples(name):
    noise = 0.1
    raw = toy_sample(name, 200000, noise, np.random.default_rng(10))
    x, shift, scale = standardize(raw)
    axis = np.linspace(-3.5, 3.5, 211)
    g1, g2 = np.meshgrid(axis, axis)
    p = np.exp(toy_log_density(name, np.stack([g1.ravel(), g2.ravel()], 1), noise, shift, scale, nodes=512)).reshape(g1.shape)
    h = axis[1] - axis[0]
    assert p.sum() * h * h == pytest.approx(1.0, abs=2e-3)
    counts, e1, e2 = np.histogram2d(x[:, 1], x[:, 0], bins=14, range=[[-3.5, 3.5], [-3.5, 3.5]])
    empirical = counts / len(x)
    masses = np.zeros_like(empirical)
    for i in range(14):
        for j in range(14):
            inside = (g2 >= e1[i]) & (g2 < e1[i + 1]) & (g1 >= e2[j]) & (g1 < e2[j + 1])
            masses[i, j] = p[inside].sum() * h * h
    assert np.abs(empirical - masses).max() < 0.01


def test_circle_density_matches_numerical_quadrature_over_the_angle():
    x = np.array([[0.3, 0.8], [-0.2, 0.1], [1.1, -0.4]])
    noise = 0.15

    def circle(point, radius):
        def integrand(a):
            d2 = (point[0] - radius * np.cos(a)) ** 2 + (point[1] - radius * np.sin(a)) ** 2
            return np.exp(-d2 / (2 * noise**2)) / (2 * np.pi * noise**2) / (2 * np.pi)
        return quad.quad(integrand, 0, 2 * np.pi, limit=200)[0]

    expected = [np.log(0.5 * circle(p, 1.0) + 0.5 * circle(p, 0.5)) for p in x]
    np.testing.assert_allclose(toy_log_density("circles", x, noise), expected, rtol=1e-9)


def test_pinwheel_samples_but_has_no_closed_form_density():
    x = toy_sample("pinwheel", 1000, 0.1, np.random.default_rng(0))
    assert x.shape == (1000, 2) and np.isfinite(x).all()
    with pytest.raises(ValueError, match="no closed-form density"):
        toy_log_density("pinwheel", x, 0.1)
    assert set(TOYS) == {"moons", "circles", "gaussians8", "pinwheel"}


def test_schema_defaults_are_the_library_defaults():
    with open("schemas/config.schema.yaml") as handle:
        schema = yaml.safe_load(handle)
    run = schema["$defs"]["cnf_run"]["properties"]
    assert {k: v["default"] for k, v in run.items() if "default" in v} == CNF_DEFAULTS


def facts_with(datasets=None):
    return {"datasets": datasets or {}}


@pytest.mark.parametrize(
    ("spec", "datasets", "message"),
    [
        ({"data": "spirals"}, None, r"cnf.runs.r.data is 'spirals'; expected a toy \('moons'"),
        ({"data": "moons", "solver": "rk4", "step_size": 0.3}, None, r"cnf.runs.r.step_size is 0.3; a fixed-step solver"),
        ({"data": "moons", "warm_start": 1000, "iterations": 1000}, None, r"cnf.runs.r.warm_start is 1000, not below iterations"),
        ({"data": "atlas"}, {"atlas": {"processed": True, "obsm": ["X_umap"]}}, r"'atlas', whose h5ad has no obsm\['X_pca'\]"),
        ({"data": "moons", "device": "cuda"}, None, r"cnf.runs.r.device is 'cuda'"),
    ],
)
def test_config_errors_name_the_run_and_key(spec, datasets, message):
    if spec.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InputError, match=message):
        check_cnf_config({"cnf": {"runs": {"r": spec}}}, facts_with(datasets))


def test_dataset_runs_read_the_leading_pca_dimensions(tmp_path):
    import anndata as ad

    rng = np.random.default_rng(11)
    adata = ad.AnnData(X=rng.standard_normal((40, 6)).astype(np.float32))
    adata.obsm["X_pca"] = rng.standard_normal((40, 4))
    adata.obs["cell_type"] = ["a", "b"] * 20
    path = tmp_path / "d.h5ad"
    adata.write_h5ad(path)
    from figureflow.data.ingest import read_h5ad_annotations

    data = cnf.training_data({"data": "d", "n_dims": 3}, 0, "r", read_h5ad_annotations(path), path)
    expected, shift, scale = standardize(adata.obsm["X_pca"][:, :3])
    np.testing.assert_array_equal(data["x"], expected)
    assert list(data["names"]) == ["PC1", "PC2", "PC3"] and data["cell_type"][1] == "b"
    with pytest.raises(InputError, match=r"n_dims is 5, but obsm\['X_pca'\] has 4 components"):
        cnf.training_data({"data": "d", "n_dims": 5}, 0, "r", read_h5ad_annotations(path), path)
    assert check_cnf_config({"cnf": {"runs": {"r": {"data": "d", "n_dims": 3}}}}, facts_with({"d": {"processed": True, "obsm": ["X_pca"]}}))["runs"]["r"]["dims"] == 3


def test_fourier_frequencies_come_from_the_seed_and_survive_saving(tmp_path):
    options = {**CNF_DEFAULTS, "hidden": [8], "fourier_features": 6, "fourier_scale": 3.0}
    a, b, c = (cnf.build_field(2, options, seed) for seed in (11, 11, 12))
    assert torch.equal(a.frequencies, b.frequencies) and not torch.equal(a.frequencies, c.frequencies)
    assert a.frequencies.shape == (2, 6) and a.layers[0].n_in == 2 + 12
    # standard normal draws times the scale, taken from the weight stream after the weights
    generator = torch.Generator().manual_seed(11)
    init_weights(cnf.VectorField(2, [8], "tanh", "concatsquash", 6), generator)
    assert torch.equal(a.frequencies, torch.randn((2, 6), generator=generator) * 3.0)
    cnf.save_model(tmp_path / "m.pt", a, options, {"shift": 0.0, "scale": 1.0})
    loaded, _ = cnf.load_model(tmp_path / "m.pt")
    z = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(loaded.frequencies, a.frequencies) and torch.equal(loaded(0.3, z), a.eval()(0.3, z))


def _moons(n=600):
    x, _, _ = standardize(toy_sample("moons", n, 0.05, np.random.default_rng(0)))
    return x


def test_the_issues_learning_rate_50_stops_at_the_evaluation_budget_naming_run_iteration_and_what_to_change(tmp_path):
    """Maximum likelihood at learning_rate 50 on 600 two-moons points: the flow turns stiff, and the
    training solve stops at its budget (it once took 145 s and 23 GB for one iteration)."""
    checkpoint = tmp_path / "checkpoint.pt"
    options = {"learning_rate": 50.0, "iterations": 20, "batch_size": 512, "max_evaluations": 300, "device": "cpu"}
    with pytest.raises(cnf.ODESolveError, match=r"CNF run stiff, iteration \d+: the training solve \(dopri5, rtol 1e-05, atol 1e-05\) stopped after 300 field evaluations.*lower learning_rate \(now 50\)"):
        cnf.train_cnf(_moons(), options, 0, "stiff", checkpoint=checkpoint, progress=False, checkpoint_seconds=0)
    assert not checkpoint.exists()


def test_a_training_whose_held_out_nll_explodes_is_refused_as_diverged(tmp_path):
    from figureflow.generative.training import TrainingDiverged

    options = {"objective": "flow_matching", "learning_rate": 500.0, "iterations": 60, "evaluate_every": 20, "batch_size": 128,
               "hidden": [32, 32], "solver": "rk4", "step_size": 0.05, "device": "cpu"}
    with pytest.raises(TrainingDiverged, match=r"CNF run wild: training diverged at epoch 4 \(iteration 20\): the held-out loss is [0-9.]+, above the bound 5.72[0-9]*, against 2.86[0-9]* for the untrained model.*\(now 500\)"):
        cnf.train_cnf(_moons(), options, 0, "wild", checkpoint=tmp_path / "c.pt", progress=False)
    assert not (tmp_path / "c.pt").exists()


def test_the_evaluation_budget_and_the_jobs_memory_follow_the_runs_sizes():
    from figureflow.generative.settings import CNF_BASE_MB, cnf_evaluation_mb, cnf_training_budget

    ml = {"hidden": [128, 128, 128], "batch_size": 512}
    assert cnf_evaluation_mb(ml, 2) == pytest.approx(4 * 512 * 384 * 12 / 1e6)  # 8 + 2 D values per row and unit
    assert cnf_evaluation_mb({**ml, "trace": "hutchinson"}, 6) == pytest.approx(4 * 512 * 384 * 10 / 1e6)
    assert cnf_evaluation_mb({**ml, "objective": "flow_matching"}, 2) == 0 and cnf_evaluation_mb({**ml, "adjoint": True}, 2) == 0
    budget = cnf_training_budget(ml, 2)
    assert budget["mem_mb"] == 4000 and budget["max_evaluations"] == int((4000 - CNF_BASE_MB) / budget["evaluation_mb"])
    explicit = cnf_training_budget({**ml, "max_evaluations": 1000}, 2)
    assert explicit["max_evaluations"] == 1000 and explicit["mem_mb"] == math.ceil(CNF_BASE_MB + 1000 * budget["evaluation_mb"])
    assert cnf_training_budget({**ml, "objective": "flow_matching"}, 2) == {"max_evaluations": None, "mem_mb": 4000, "evaluation_mb": 0.0}


def test_a_fixed_step_solve_that_cannot_fit_its_budget_is_refused_before_any_job():
    facts = check_cnf_config({"cnf": {"runs": {"r": {"data": "moons", "hidden": [128, 128, 128], "batch_size": 512}}}}, facts_with({}))
    assert facts["runs"]["r"]["mem_mb"] == 4000
    spec = {"data": "moons", "hidden": [512, 512, 512], "batch_size": 4096, "solver": "rk4", "step_size": 0.01}
    with pytest.raises(InputError, match=r"cnf.runs.r: a training solve may take \d+ field evaluations \(what memory_mb 4000 holds at [0-9.]+ MB per evaluation\), but rk4 needs at least 400; raise memory_mb"):
        check_cnf_config({"cnf": {"runs": {"r": spec}}}, facts_with({}))
    assert check_cnf_config({"cnf": {"runs": {"r": {**spec, "memory_mb": 200000}}}}, facts_with({}))["runs"]["r"]["mem_mb"] == 200000


def test_a_dataset_runs_memory_request_is_its_solve_budget_plus_its_embedding_and_grows_with_the_cells():
    from figureflow.generative.settings import CNF_EMBEDDING_COLUMNS, cnf_data_mb

    def asked(cells):
        facts = facts_with({"d": {"processed": False, "shape": [cells, 2000]}})
        return check_cnf_config({"cnf": {"runs": {"r": {"data": "d", "n_dims": 4, "objective": "flow_matching"}}}}, facts)["runs"]["r"]["mem_mb"]

    toy = check_cnf_config({"cnf": {"runs": {"r": {"data": "moons", "objective": "flow_matching"}}}}, facts_with())["runs"]["r"]["mem_mb"]
    assert cnf_data_mb(0) == 0 and cnf_data_mb(10**6) == int(np.ceil(2 * 10**6 * (8 * CNF_EMBEDDING_COLUMNS + 100) / 1e6)) == 1224
    assert asked(100_000) == toy + 123 and asked(10**6) == toy + 1224  # not the 2,000 genes: the job never reads them


def test_saving_the_same_model_twice_gives_the_same_bytes(tmp_path):
    """torch names its zip records after the file it writes to; figureflow saves through an open
    file, so the temporary name of an atomic write does not make equal models differ on disk."""
    field = cnf.build_field(2, {**CNF_DEFAULTS, "hidden": [8]}, 3)
    for name in ("a", "b"):
        cnf.save_model(tmp_path / f"{name}.pt", field, {"data": "moons"}, {"shift": 0.0, "scale": 1.0})
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    loaded, saved = cnf.load_model(tmp_path / "a.pt")
    assert all(torch.equal(x, y) for x, y in zip(loaded.state_dict().values(), field.state_dict().values()))
