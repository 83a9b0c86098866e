#!/usr/bin/env python3
"""Invariants of the deployment, checked offline.

Parses every Terraform file under terraform/ (python-hcl2), cloudbuild.yaml
(PyYAML) and the Dockerfile, and asserts what the platform promises: one
service account per Cloud Run service, cleanup reachable only by Cloud
Scheduler's OIDC identity, a protected KMS signing key only acquire may use,
no secret values in code, and every function of the workspace built, pushed
and deployed.

The function list comes from the workspace: the crates under functions/.
`local` (the all-in-one dev server) is buildable but never deployed.

Run with `python tests/infra/test_deploy_invariants.py` (prints
`N passed, M failed` and exits non-zero on failure) or under pytest.
`.ci/infra-checks` installs the pinned parsers and runs it.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import tempfile
import tomllib
import traceback
from pathlib import Path

import hcl2
import yaml

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
MODULES = TERRAFORM / "modules"
ENVIRONMENTS = ("dev", "prod")
NOT_DEPLOYED = {"local"}

# Used only while functions/ does not exist yet (the workspace is being
# written alongside this deployment); as soon as it exists it is the truth.
DESIGNED_FUNCTIONS = ["acquire", "admin", "cleanup", "heartbeat", "local", "release", "stripe-webhook"]

SECRET_ENV_NAMES = {"DATABASE_URL", "REDIS_URL", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY"}
DATABASE_FUNCTIONS_ENV = "DATABASE_URL"


# --------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------


def unquote(value):
    """python-hcl2 keeps the quotes of string literals: '"x"' -> 'x'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def clean(node):
    """Unquote keys, drop the parser's bookkeeping keys; keep values as parsed.

    Values stay raw so a test can tell a literal ('"text"') from an expression
    ('${...}').
    """
    if isinstance(node, dict):
        return {unquote(k): clean(v) for k, v in node.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(node, list):
        return [clean(v) for v in node]
    return node


def is_literal(value) -> bool:
    return isinstance(value, str) and value.startswith('"') and "${" not in value


@functools.lru_cache(maxsize=None)
def parse_tf(path: Path) -> dict:
    with path.open() as handle:
        return clean(hcl2.load(handle))


def tf_files(directory: Path = TERRAFORM) -> list[Path]:
    return sorted(p for p in directory.rglob("*.tf") if ".terraform" not in p.parts)


def module_blocks(directory: Path, kind: str) -> list[dict]:
    """All top-level blocks of one kind (resource, module, locals, ...) in a directory."""
    blocks = []
    for path in sorted(directory.glob("*.tf")):
        blocks.extend(parse_tf(path).get(kind, []))
    return blocks


def resources(directory: Path | None = None):
    """Yield (path, type, name, body) for every resource, in one directory or everywhere."""
    paths = sorted(directory.glob("*.tf")) if directory else tf_files()
    for path in paths:
        for entry in parse_tf(path).get("resource", []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    yield path, rtype, name, body


def named_blocks(directory: Path, kind: str) -> dict[str, dict]:
    """module "x" {...} / variable "x" {...} -> {"x": body}."""
    out = {}
    for entry in module_blocks(directory, kind):
        out.update(entry)
    return out


def local_value(directory: Path, name: str):
    for entry in module_blocks(directory, "locals"):
        if name in entry:
            return entry[name]
    raise AssertionError(f"local.{name} not found in {directory.relative_to(ROOT)}")


def single(blocks):
    """Nested blocks parse as a list with one element."""
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one block, got {blocks!r}"
    return blocks[0]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --------------------------------------------------------------------------
# The workspace's functions
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def workspace_functions() -> tuple[str, ...]:
    functions_dir = ROOT / "functions"
    if not functions_dir.is_dir():
        print(f"note: {rel(functions_dir)} does not exist yet; checking against the designed list")
        return tuple(DESIGNED_FUNCTIONS)
    names = sorted(p.name for p in functions_dir.iterdir() if (p / "Cargo.toml").is_file())
    assert names, "functions/ holds no crate"
    return tuple(names)


def deployed_functions() -> set[str]:
    return set(workspace_functions()) - NOT_DEPLOYED


@functools.lru_cache(maxsize=None)
def function_table() -> dict:
    return local_value(MODULES / "platform", "functions")


@functools.lru_cache(maxsize=None)
def cloudbuild_steps() -> dict[str, dict]:
    with (ROOT / "cloudbuild.yaml").open() as handle:
        document = yaml.safe_load(handle)
    steps = {}
    for step in document["steps"]:
        assert "id" in step, f"every Cloud Build step needs an id: {step}"
        assert step["id"] not in steps, f"duplicate step id {step['id']}"
        steps[step["id"]] = step
    return steps


def step_text(step: dict) -> str:
    return " ".join(str(a) for a in step.get("args", []))


# --------------------------------------------------------------------------
# Tests: the workspace and the three places that must name every function
# --------------------------------------------------------------------------


def test_each_function_crate_builds_a_binary_named_like_its_directory():
    functions_dir = ROOT / "functions"
    for name in workspace_functions():
        manifest = functions_dir / name / "Cargo.toml"
        if not manifest.is_file():
            continue  # designed list only
        package = tomllib.loads(manifest.read_text()).get("package", {})
        assert package.get("name") == name, (
            f"{rel(manifest)}: package name {package.get('name')!r} must equal the directory name "
            f"{name!r}: the Dockerfile builds `-p {name} --bin {name}`"
        )


def test_the_local_dev_server_is_never_deployed():
    assert "local" not in function_table(), "functions/local must not be a Cloud Run service"
    for step_id in cloudbuild_steps():
        assert not step_id.endswith("-local"), f"cloudbuild.yaml must not build or deploy local ({step_id})"


def test_terraform_deploys_every_workspace_function():
    assert set(function_table()) == deployed_functions(), (
        f"terraform/modules/platform/functions.tf deploys {sorted(function_table())}, "
        f"the workspace has {sorted(deployed_functions())}"
    )


def test_every_environment_sizes_every_deployed_function():
    for env in ENVIRONMENTS:
        platform = named_blocks(TERRAFORM / "environments" / env, "module")["platform"]
        sized = {unquote(k) for k in platform["services"]}
        assert sized == deployed_functions(), f"environments/{env} sizes {sorted(sized)}, expected {sorted(deployed_functions())}"


def test_platform_validation_names_every_deployed_function():
    services = named_blocks(MODULES / "platform", "variable")["services"]
    condition = services["validation"][0]["condition"]
    assert "setsymmetricdifference" in condition
    named = set(re.findall(r'"([a-z-]+)"', condition))
    assert named == deployed_functions(), f"var.services validation lists {sorted(named)}"


def test_dockerfile_allows_exactly_the_workspace_functions():
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r'case "\$\{FUNCTION\}" in\s*\\?\s*\n\s*([a-z|-]+)\)', dockerfile)
    assert match, "Dockerfile must check FUNCTION against an allowed list (case ... in a|b|c))"
    allowed = set(match.group(1).split("|"))
    assert allowed == set(workspace_functions()), f"Dockerfile allows {sorted(allowed)}, workspace has {sorted(workspace_functions())}"


def test_dockerfile_builds_one_package_onto_a_nonroot_distroless_base():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "cargo chef cook --release" in dockerfile, "dependency layer must be cached with cargo-chef"
    assert re.search(r'cargo build --release --locked -p "\$\{FUNCTION\}"', dockerfile)
    final_from = [line for line in dockerfile.splitlines() if line.startswith("FROM ")][-1]
    assert "gcr.io/distroless/cc-debian12:nonroot" in final_from, final_from
    assert re.search(r"^USER nonroot", dockerfile, re.M), "runtime must run as non-root"


def test_cloudbuild_builds_pushes_deploys_and_smoke_tests_every_deployed_function():
    steps = cloudbuild_steps()
    for fn in sorted(deployed_functions()):
        build = steps.get(f"build-{fn}")
        assert build, f"cloudbuild.yaml has no build-{fn} step"
        assert f"--build-arg=FUNCTION={fn}" in build["args"], f"build-{fn} must pass FUNCTION={fn}"
        assert build.get("waitFor") == ["cook"], f"build-{fn} should wait only for the shared cook layer (parallel builds)"

        push = steps.get(f"push-{fn}")
        assert push, f"cloudbuild.yaml has no push-{fn} step"
        assert re.search(rf"docker push \S*/{re.escape(fn)}:", step_text(push)), f"push-{fn} must push the {fn} image"
        assert f"build-{fn}" in push["waitFor"] and "test" in push["waitFor"], f"push-{fn} must wait for its build and the tests"

        deploy = steps.get(f"deploy-{fn}")
        assert deploy, f"cloudbuild.yaml has no deploy-{fn} step"
        text = step_text(deploy)
        assert f'gcloud run deploy "${{_PREFIX}}-{fn}"' in text, f"deploy-{fn} must deploy the {fn} service"
        assert f"/workspace/digests/{fn}" in text, f"deploy-{fn} must deploy by the pushed digest"
        assert "migrate" in deploy["waitFor"], f"deploy-{fn} must wait for the migrations"

        smoke = steps.get(f"smoke-{fn}")
        assert smoke and "/health" in step_text(smoke) and "/healthz" not in step_text(smoke), f"cloudbuild.yaml must smoke-test /health (not /healthz: reserved by Cloud Run's front end) of {fn}"


def test_cloudbuild_runs_migrations_once_with_the_admin_image_before_deploying():
    steps = cloudbuild_steps()
    executes = [s for s in steps.values() if "gcloud run jobs execute" in step_text(s)]
    assert len(executes) == 1, "exactly one step runs the migration job"
    migrate = executes[0]
    assert migrate["id"] == "migrate" and "push-admin" in migrate["waitFor"]
    assert "/workspace/digests/admin" in step_text(migrate), "the migration job runs the new admin image"

    job = next(body for _, rtype, name, body in resources(MODULES / "platform") if rtype == "google_cloud_run_v2_job" and name == "migrate")
    container = single(single(single(job["template"])["template"])["containers"])
    assert [unquote(a) for a in container["args"]] == ["migrate"], "the job runs `admin migrate`"


def test_cloudbuild_tests_against_real_postgres_and_redis():
    steps = cloudbuild_steps()
    test = steps["test"]
    env = " ".join(test.get("env", []))
    assert "DATABASE_URL=postgres://" in env and "REDIS_URL=redis://" in env
    assert {"start-postgres", "start-redis"} <= set(test["waitFor"])


def test_cloudbuild_runs_the_very_suite_ci_runs_with_nothing_skipped():
    """The deploy pipeline once ran `cargo test` without `CI` or the Auth Emulator, so the
    emulator tests took their skip path and passed invisibly. Both now run `.ci/test-suite`,
    which sets `CI` (a real-backend test cannot skip) and starts the emulator itself."""
    test = cloudbuild_steps()["test"]
    env = " ".join(test.get("env", []))
    assert "CI=true" in env
    assert "bash .ci/test-suite" in step_text(test)
    assert "bash .ci/test-suite" in (ROOT / ".ci" / "run").read_text()
    suite = (ROOT / ".ci" / "test-suite").read_text()
    assert "export CI=true" in suite
    assert "FIREBASE_AUTH_EMULATOR_HOST" in suite and "start-emulator.sh" in suite
    readme_command = "cargo test --workspace"
    assert readme_command in (ROOT / "README.md").read_text()
    assert f'TEST_COMMAND="{readme_command}"' in suite
    for part in ("client/python/run-tests.sh", "tests/stripe/run.sh", "tests/schemathesis/run.sh"):
        assert part in suite, part
    assert 'bash .ci/nothing-ignored "$SUMMARY"' in suite


SUMMARY_OK = """
running 2 tests
test embedded::a_seat ... ok
test real::a_seat ... ok

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
"""


def nothing_ignored(log_text: str) -> subprocess.CompletedProcess:
    """`.ci/nothing-ignored` run on a test log holding `log_text`."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "test.log"
        log.write_text(log_text)
        return subprocess.run(
            ["bash", str(ROOT / ".ci" / "nothing-ignored"), str(log)], capture_output=True, text=True
        )


def test_a_suite_where_a_test_was_ignored_fails_naming_it():
    """Real-backend tests used to pass silently when their backend was missing; now they are
    ignored at build time, and CI fails a summary that counts one."""
    skipped = SUMMARY_OK + """
running 2 tests
test postgres::a_record ... ignored, DATABASE_URL is not set
test sqlite::a_record ... ok

test result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s
"""
    ran = nothing_ignored(skipped)
    assert ran.returncode == 1
    assert "1 tests were ignored" in ran.stderr
    assert "postgres::a_record ... ignored, DATABASE_URL is not set" in ran.stderr


def test_a_suite_where_every_test_ran_passes_and_one_that_never_ran_fails():
    assert nothing_ignored(SUMMARY_OK).returncode == 0
    empty = nothing_ignored("error: could not compile `integration-tests`\n")
    assert empty.returncode == 1 and "no test summary" in empty.stderr


# --------------------------------------------------------------------------
# Tests: identities and access
# --------------------------------------------------------------------------


def test_each_cloud_run_service_has_its_own_service_account():
    module_dir = MODULES / "cloud-run-service"
    accounts = [(n, b) for _, t, n, b in resources(module_dir) if t == "google_service_account"]
    assert len(accounts) == 1, "cloud-run-service must create exactly one service account"
    account_name, account = accounts[0]
    assert account["account_id"] == "${var.name}", "the account id is the service's (unique) name"

    services = [b for _, t, _, b in resources(module_dir) if t == "google_cloud_run_v2_service"]
    assert len(services) == 1
    assert single(services[0]["template"])["service_account"] == f"${{google_service_account.{account_name}.email}}"

    callers = [
        (path, name, body)
        for path in tf_files()
        for entry in parse_tf(path).get("module", [])
        for name, body in entry.items()
        if unquote(body["source"]).endswith("/cloud-run-service")
    ]
    assert len(callers) == 1, "one module call creates all services"
    _, _, call = callers[0]
    assert "local.functions" in call["for_each"], "one instance per function"
    assert "each.key" in call["name"], "each instance is named after its function"

    # Every service account in the platform has a distinct id.
    ids = [b["account_id"] for _, t, _, b in resources() if t == "google_service_account"]
    assert len(ids) == len(set(ids)), f"service account ids collide: {ids}"


def test_cleanup_is_not_publicly_invocable():
    assert function_table()["cleanup"]["public"] is False, "functions.tf marks cleanup public"
    public_grants = []
    for path, rtype, name, body in resources():
        text = repr(body)
        if "allUsers" in text or "allAuthenticatedUsers" in text:
            public_grants.append((rel(path), rtype, name, body))
    assert len(public_grants) == 1, f"allUsers must appear in one place only: {[(p, t, n) for p, t, n, _ in public_grants]}"
    path, rtype, name, body = public_grants[0]
    assert path.endswith("cloud-run-service/main.tf") and rtype == "google_cloud_run_v2_service_iam_member"
    assert body["count"] == "${var.public ? 1 : 0}", "allUsers is granted only to services marked public"
    assert unquote(body["role"]) == "roles/run.invoker"
    for _, rtype, _, body in resources():
        assert "invoker_iam_disabled" not in body, "Cloud Run IAM must stay in front of every service"


def test_cloud_scheduler_invokes_cleanup_with_an_oidc_token_through_run_invoker():
    module_dir = MODULES / "cleanup-schedule"
    found = {(t, n): b for _, t, n, b in resources(module_dir)}
    invoker = found[("google_cloud_run_v2_service_iam_member", "scheduler_invokes_cleanup")]
    assert unquote(invoker["role"]) == "roles/run.invoker"
    assert "google_service_account.scheduler.email" in invoker["member"]
    assert invoker["name"] == "${var.service_name}"

    job = found[("google_cloud_scheduler_job", "this")]
    target = single(job["http_target"])
    assert unquote(target["http_method"]) == "POST"
    oidc = single(target["oidc_token"])
    assert "google_service_account.scheduler.email" in oidc["service_account_email"]
    assert oidc["audience"] == "${var.service_uri}"
    retry = single(job["retry_config"])
    assert retry["retry_count"] >= 1, "the schedule retries a failed sweep"

    variables = named_blocks(module_dir, "variable")
    assert unquote(variables["schedule"]["default"]) == "* * * * *", "cleanup runs every minute"
    assert unquote(variables["path"]["default"]) == "/api/v1/tasks/cleanup"

    call = named_blocks(MODULES / "platform", "module")["cleanup_schedule"]
    assert call["service_name"] == '${module.service["cleanup"].name}'
    assert call["service_uri"] == '${module.service["cleanup"].uri}'


def test_lease_signing_key_is_protected_and_never_auto_rotated():
    keys = [b for _, t, _, b in resources(MODULES / "lease-signing-key") if t == "google_kms_crypto_key"]
    assert len(keys) == 1
    key = keys[0]
    assert unquote(key["purpose"]) == "ASYMMETRIC_SIGN"
    assert unquote(single(key["version_template"])["algorithm"]) == "RSA_SIGN_PKCS1_4096_SHA256"
    assert single(key["lifecycle"]).get("prevent_destroy") is True, "the key must have prevent_destroy"
    assert "rotation_period" not in key, "asymmetric keys cannot rotate on a schedule"
    for _, rtype, _, body in resources():
        if rtype == "google_kms_crypto_key":
            assert "rotation_period" not in body

    signing = named_blocks(MODULES / "platform", "variable")["lease_signing_key_version"]
    conditions = [v["condition"] for v in signing.get("validation", [])]
    assert any("contains(var.lease_public_key_versions, var.lease_signing_key_version)" in c for c in conditions), (
        "a key version must be published in the JWKS before acquire signs with it"
    )


def test_only_acquire_may_sign_and_only_on_the_key():
    signer_grants = []
    for path, rtype, name, body in resources():
        role = unquote(body.get("role", ""))
        if isinstance(role, str) and role.startswith("roles/cloudkms."):
            assert rtype == "google_kms_crypto_key_iam_member", (
                f"{rel(path)}: {rtype}.{name} grants {role}; KMS roles belong on the key, never the project or key ring"
            )
            if role in ("roles/cloudkms.signerVerifier", "roles/cloudkms.signer", "roles/cloudkms.admin"):
                signer_grants.append((name, body))
    assert len(signer_grants) == 1, f"exactly one signing grant expected, found {[n for n, _ in signer_grants]}"
    name, body = signer_grants[0]
    assert unquote(body["role"]) == "roles/cloudkms.signerVerifier"
    assert body["member"] == '${module.service["acquire"].service_account_member}', "only acquire signs"
    assert "for_each" not in body

    for _, rtype, name, body in resources():
        if rtype.startswith(("google_project_iam", "google_organization_iam", "google_folder_iam")):
            role = unquote(body.get("role", ""))
            assert "cloudkms" not in str(role), f"{rtype}.{name} grants a KMS role project-wide"


def test_heartbeat_release_and_admin_only_view_public_keys():
    readers = [
        body
        for _, rtype, name, body in resources(MODULES / "platform")
        if rtype == "google_kms_crypto_key_iam_member" and unquote(body["role"]) == "roles/cloudkms.publicKeyViewer"
    ]
    assert len(readers) == 1
    granted = set(re.findall(r'"([a-z-]+)"', readers[0]["for_each"]))
    assert granted == {"admin", "heartbeat", "release"}, f"publicKeyViewer goes to {sorted(granted)}"


def test_runtime_service_accounts_have_no_project_level_roles():
    for path, rtype, name, body in resources():
        if rtype.startswith("google_project_iam"):
            assert path.name == "deployer.tf" and body["member"] == "${local.deployer_member}", (
                f"{rel(path)}: {rtype}.{name} is a project-level grant outside the deployer"
            )
            assert unquote(str(body.get("role", ""))) not in ("roles/owner", "roles/editor")


def test_least_privilege_follows_the_function_table():
    table = function_table()
    for fn, spec in table.items():
        secret_env = {k: unquote(v) for k, v in spec["secret_env"].items()}
        env = spec["env"]
        uses_db = DATABASE_FUNCTIONS_ENV in secret_env
        assert ("DATABASE_MAX_CONNECTIONS" in env) == uses_db, f"{fn}: DATABASE_MAX_CONNECTIONS iff DATABASE_URL"
        assert "REDIS_URL" in secret_env, f"{fn}: every function reaches Redis"
        assert ("LEASE_SIGNING_KEY" in env) == (fn == "acquire"), f"{fn}: only acquire gets LEASE_SIGNING_KEY"
        assert ("STRIPE_WEBHOOK_SECRET" in secret_env) == (fn == "stripe-webhook")
        # Only admin calls the Stripe API (Checkout, Billing Portal); the webhook only verifies.
        assert ("STRIPE_API_KEY" in secret_env) == (fn == "admin"), f"{fn}: STRIPE_API_KEY iff admin"
    for fn in ("heartbeat", "release"):
        assert set(table[fn]["secret_env"]) == {"REDIS_URL"}, f"{fn} touches Redis only"
    for fn in ("acquire", "stripe-webhook", "admin", "cleanup"):
        assert DATABASE_FUNCTIONS_ENV in table[fn]["secret_env"], f"{fn} uses the database"


# --------------------------------------------------------------------------
# Tests: secrets
# --------------------------------------------------------------------------


def test_secrets_reach_services_only_as_secret_manager_references():
    table = function_table()
    common_env = local_value(MODULES / "platform", "common_env")
    assert not SECRET_ENV_NAMES & set(common_env), "secret names in common_env"
    for fn, spec in table.items():
        assert not SECRET_ENV_NAMES & set(spec["env"]), f"{fn}: a secret is passed as a plain env value"
        for var_name, secret_key in spec["secret_env"].items():
            assert is_literal(secret_key), f"{fn}: {var_name} must name a secret, not compute a value"

    service = next(b for _, t, _, b in resources(MODULES / "cloud-run-service") if t == "google_cloud_run_v2_service")
    container = single(single(service["template"])["containers"])
    dynamic_envs = [d["env"] for d in container["dynamic"] if "env" in d]
    by_source = {d["for_each"]: d for d in dynamic_envs}
    secret_block = single(by_source["${var.secret_env}"]["content"])
    ref = single(single(secret_block["value_source"])["secret_key_ref"])
    assert ref["secret"] == "${env.value}"


def test_no_secret_value_is_written_by_terraform():
    for path, rtype, name, body in resources():
        if rtype == "google_secret_manager_secret_version":
            data = body.get("secret_data")
            assert data is not None and not is_literal(data) and str(data).startswith("${"), (
                f"{rel(path)}: {rtype}.{name} writes a literal secret_data"
            )
            assert data == "${local.redis.server_ca_pem}", (
                f"{rel(path)}: only the public Memorystore CA may be written by Terraform, not {data}"
            )
    # local.redis is the instance or the cluster, both modules whose CA output is public.
    redis = local_value(MODULES / "platform", "redis")
    assert redis == "${var.redis_cluster.enabled ? module.redis_cluster[0] : module.redis[0]}", redis
    for module in ("memorystore", "memorystore-cluster"):
        outputs = {k for e in parse_tf(MODULES / module / "outputs.tf").get("output", []) for k in e}
        assert "server_ca_pem" in outputs, f"{module} has no server_ca_pem output"
    for path in tf_files():
        text = path.read_text()
        assert not re.search(r"^\s*(password|secret_data)\s*=\s*\"", text, re.M), f"{rel(path)}: literal password or secret"
        assert not re.search(r"postgres(ql)?://[^\"\s]*:[^\"\s@]+@", text.replace("USER:PASSWORD@", "")), (
            f"{rel(path)}: credentials in a URL"
        )


def test_sensitive_inputs_are_marked_and_never_output():
    for path in tf_files():
        for entry in parse_tf(path).get("variable", []):
            for name, body in entry.items():
                if re.search(r"(_secret|password|auth_string|api_key|_token)$", name):
                    assert body.get("sensitive") is True, f"{rel(path)}: variable {name} must be sensitive"
        for entry in parse_tf(path).get("output", []):
            for name, body in entry.items():
                value = str(body.get("value", ""))
                leak = re.search(r"auth_string|secret_data|client_secret|\.password\b|var\.\w*password", value)
                assert not leak, f"{rel(path)}: output {name} exposes {leak.group(0)}"


# --------------------------------------------------------------------------
# Tests: sizing and layout
# --------------------------------------------------------------------------


def test_database_connection_budget_fits_in_every_environment():
    migrate_pool = named_blocks(MODULES / "platform", "variable")["migrate_db_pool"]["default"]
    database_fns = {fn for fn, spec in function_table().items() if DATABASE_FUNCTIONS_ENV in spec["secret_env"]}
    for env in ENVIRONMENTS:
        platform = named_blocks(TERRAFORM / "environments" / env, "module")["platform"]
        services = {unquote(k): v for k, v in platform["services"].items()}
        database = platform["database"]
        demand = migrate_pool + sum(services[fn]["max_instances"] * services[fn].get("db_pool", 0) for fn in database_fns)
        budget = database["max_connections"] - database["reserved_connections"]
        assert demand <= budget, f"environments/{env}: {demand} connections at max scale > {budget}"
        for fn in database_fns:
            assert services[fn].get("db_pool", 0) >= 1, f"environments/{env}: {fn} needs db_pool"

    instance = next(b for _, t, _, b in resources(MODULES / "cloud-sql") if t == "google_sql_database_instance")
    precondition = single(single(instance["lifecycle"])["precondition"])
    assert "var.connection_demand" in precondition["condition"], "Cloud SQL must refuse plans over the budget"


def test_dev_scales_to_zero():
    platform = named_blocks(TERRAFORM / "environments" / "dev", "module")["platform"]
    for fn, size in platform["services"].items():
        assert size["min_instances"] == 0, f"dev {unquote(fn)} must scale to zero"


def test_monitoring_reads_the_lines_the_services_write():
    """The log-based metrics filter on messages and fields the Rust code writes: a renamed log line
    would silently leave a metric (and its alert) at zero."""
    monitoring = (MODULES / "monitoring" / "main.tf").read_text()
    rust = "\n".join(p.read_text() for p in (ROOT / "shared" / "src").rglob("*.rs"))
    for message in re.findall(r'jsonPayload\.message=\\"([^"\\]+)\\"', monitoring):
        assert f'"{message}"' in rust, f"monitoring filters on the log message {message!r}, which no code writes"
    for field in set(re.findall(r"jsonPayload\.(\w+)", monitoring)) - {"message"}:
        assert re.search(rf"\b{field}\b\s*[=,)]", rust), f"monitoring reads jsonPayload.{field}, which no log line has"
    platform = (MODULES / "platform" / "main.tf").read_text()
    assert 'source = "../monitoring"' in platform, "the platform deploys the monitoring module"
    latency = re.search(r"latency = \{([^}]*)\}", monitoring)
    assert latency and {"acquire", "heartbeat"} <= set(re.findall(r"(\w+)\s*=", latency.group(1))), (
        "latency alerts watch acquire and heartbeat"
    )
    for alert in ("server-errors", "denials"):
        assert f"{alert} = {{" in monitoring, f"alert policy {alert} is defined"


def test_the_redis_cluster_is_an_option_off_by_default_that_replaces_the_instance():
    platform = MODULES / "platform"
    modules = named_blocks(platform, "module")
    enabled = "var.redis_cluster.enabled"
    assert modules["redis"]["count"] == f"${{{enabled} ? 0 : 1}}", modules["redis"].get("count")
    assert modules["redis_cluster"]["count"] == f"${{{enabled} ? 1 : 0}}", modules["redis_cluster"].get("count")
    assert unquote(modules["redis_cluster"]["source"]) == "../memorystore-cluster"
    variable = named_blocks(platform, "variable")["redis_cluster"]
    default = variable["default"]
    assert default in ({"enabled": False}, {"enabled": "false"}), f"redis_cluster must be off by default: {default}"
    # The services are told which kind of Redis redis-url names.
    common_env = local_value(platform, "common_env")
    assert common_env.get("REDIS_CLUSTER") == f"${{tostring({enabled})}}", common_env.get("REDIS_CLUSTER")
    # The cluster keeps the instance's guarantees: TLS, no eviction, private reach only.
    (_, _, _, cluster), = [r for r in resources(MODULES / "memorystore-cluster") if r[1] == "google_redis_cluster"]
    assert unquote(cluster["transit_encryption_mode"]) == "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION"
    assert unquote(cluster["redis_configs"]["maxmemory-policy"]) == "noeviction"
    assert single(cluster["psc_configs"])["network"] == "${var.network_id}"
    assert cluster["deletion_protection_enabled"] in (True, "true")


def test_every_module_has_its_files():
    for module_dir in sorted(p for p in MODULES.iterdir() if p.is_dir()):
        for required in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (module_dir / required).is_file(), f"{rel(module_dir)} lacks {required}"
    for env in ENVIRONMENTS:
        for required in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (TERRAFORM / "environments" / env / required).is_file(), f"environments/{env} lacks {required}"


# --------------------------------------------------------------------------
# Plain runner (pytest also collects the test_* functions above)
# --------------------------------------------------------------------------


def main() -> int:
    tests = [(name, fn) for name, fn in globals().items() if name.startswith("test_") and callable(fn)]
    passed = failed = 0
    for name, test in tests:
        try:
            test()
        except Exception as error:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            detail = str(error) if isinstance(error, AssertionError) and str(error) else traceback.format_exc(limit=3)
            print(f"FAIL {name}: {detail}")
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
