"""``/v1/fine_tuning/jobs``: create, list, retrieve, events, cancel."""

from __future__ import annotations

from typing import Any

from ftplug.catalogue.models import default_catalogue
from ftplug.catalogue.training_cost import estimate_training
from ftplug.simulator.behaviour.training_data import InvalidTrainingFile, check_hyperparameter, parse_training_file
from ftplug.simulator.http.routing import ApiError, Request, Router, bad_request, not_found
from ftplug.simulator.state.jobs import TERMINAL, Job
from ftplug.simulator.state.store import State, paginate

# The simulator's own wording (the API's exact text for this refusal is not documented).
REFUSAL = "Fine-tuning is not available for this organization: new fine-tuning jobs cannot be created."


def _hyperparameters(body: dict[str, Any]) -> dict[str, Any]:
    method = body.get("method")
    if method is not None:
        if not isinstance(method, dict) or method.get("type", "supervised") != "supervised":
            raise bad_request("Only the 'supervised' method is simulated.", param="method")
        supervised = method.get("supervised") or {}
        raw = supervised.get("hyperparameters") or {} if isinstance(supervised, dict) else {}
    else:
        raw = body.get("hyperparameters") or {}
    if not isinstance(raw, dict):
        raise bad_request("Invalid type for 'hyperparameters': expected an object.", param="hyperparameters")
    return {
        "n_epochs": check_hyperparameter(raw.get("n_epochs"), "n_epochs", int, 1, 50),
        "batch_size": check_hyperparameter(raw.get("batch_size"), "batch_size", int, 1, 256),
        "learning_rate_multiplier": check_hyperparameter(raw.get("learning_rate_multiplier"),
                                                         "learning_rate_multiplier", float, 1e-6, 100),
    }


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("Missing required parameter: 'model'.", param="model")
    info = default_catalogue().find(model)
    if info is None or info.training_limit is None or model.startswith("ft:"):
        raise bad_request(f"Model {model} is not available for fine-tuning or does not exist.", param="model",
                          code="model_not_available")
    return info.id


class _FineTuningJobs:
    """The fine-tuning handlers, over the simulator's jobs and files."""

    def __init__(self, state: State) -> None:
        self.state = state

    def fine_tune_file(self, body: dict[str, Any], key: str) -> str:
        """The id of the uploaded fine-tune file ``body[key]`` names; a 400 naming ``key`` otherwise."""
        file_id = body.get(key)
        if not isinstance(file_id, str):
            raise bad_request(f"Missing required parameter: '{key}'.", param=key)
        stored = self.state.files.get(file_id)
        if stored is None:
            raise bad_request(f"Invalid file ID: {file_id}. The file does not exist.", param=key)
        if stored.purpose != "fine-tune":
            raise bad_request(f"File {file_id} has purpose {stored.purpose!r}; fine-tuning needs 'fine-tune'.",
                              param=key)
        return file_id

    def existing_job(self, job_id: str) -> Job:
        """The job ``job_id``; a 404 if there is none."""
        job = self.state.jobs.get(job_id)
        if job is None:
            raise not_found(f"Could not find fine-tune: {job_id}", param="fine_tune_id", code="fine_tune_not_found")
        return job

    def create(self, request: Request) -> dict[str, Any]:
        """``POST /v1/fine_tuning/jobs``."""
        state = self.state
        if state.options.refuse_fine_tuning:
            raise ApiError(403, REFUSAL, code="fine_tuning_not_available")
        body = request.json()
        model = _model(body)
        training_file = self.fine_tune_file(body, "training_file")
        validation_file = None if body.get("validation_file") is None else self.fine_tune_file(body, "validation_file")
        suffix = body.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
            raise bad_request("Invalid 'suffix': must be a string of at most 64 characters.", param="suffix")
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise bad_request("Invalid type for 'seed': expected an integer.", param="seed")
        requested = _hyperparameters(body)
        with state.lock:
            job = Job(id=state.ids.make("ftjob-", 24), model=model, training_file=training_file,
                      validation_file=validation_file, suffix=suffix or None,
                      seed=seed if seed is not None else state.ids.counter * 7919 % 2**31,
                      metadata=body.get("metadata"), requested=requested, created=state.clock.now(),
                      timing=state.timing, organization=state.organization)
            _read_examples(job, state)
            if job.examples:
                _resolve(job, requested)
            state.jobs[job.id] = job
            # The answer is the job as it was created, as the API's is, however fast the clock runs after.
            return job.to_api(job.created, state)

    def retrieve(self, request: Request, job_id: str) -> dict[str, Any]:
        """``GET /v1/fine_tuning/jobs/{job_id}``."""
        return self.existing_job(job_id).to_api(self.state.clock.now(), self.state)

    def listing(self, request: Request) -> dict[str, Any]:
        """``GET /v1/fine_tuning/jobs``, newest first."""
        limit = request.query_int("limit", 20, 1, 100)
        now = self.state.clock.now()
        with self.state.lock:
            jobs = list(reversed(self.state.jobs.values()))  # newest first
        return paginate([job.to_api(now, self.state) for job in jobs], request.query.get("after"), limit)

    def events(self, request: Request, job_id: str) -> dict[str, Any]:
        """``GET /v1/fine_tuning/jobs/{job_id}/events``."""
        limit = request.query_int("limit", 20, 1, 10_000)
        return paginate(self.existing_job(job_id).events(self.state.clock.now()), request.query.get("after"), limit)

    def checkpoints(self, request: Request, job_id: str) -> dict[str, Any]:
        """``GET /v1/fine_tuning/jobs/{job_id}/checkpoints``."""
        limit = request.query_int("limit", 10, 1, 100)
        checkpoints = self.existing_job(job_id).checkpoints(self.state.clock.now())
        return paginate(checkpoints, request.query.get("after"), limit)

    def cancel(self, request: Request, job_id: str) -> dict[str, Any]:
        """``POST /v1/fine_tuning/jobs/{job_id}/cancel``; a 400 for a job that has already finished."""
        job = self.existing_job(job_id)
        now = self.state.clock.now()
        with self.state.lock:
            if job.status(now) in TERMINAL:
                raise bad_request(f"Job {job_id} has already {job.status(now)} and cannot be cancelled.",
                                  param="fine_tune_id")
            job.cancelled_at = now
        return job.to_api(now, self.state)


def add_routes(router: Router, state: State) -> None:
    """Register the fine-tuning endpoints."""
    jobs = _FineTuningJobs(state)
    router.add("POST", "/v1/fine_tuning/jobs", jobs.create)
    router.add("GET", "/v1/fine_tuning/jobs", jobs.listing)
    router.add("GET", "/v1/fine_tuning/jobs/{job_id}", jobs.retrieve)
    router.add("GET", "/v1/fine_tuning/jobs/{job_id}/events", jobs.events)
    router.add("GET", "/v1/fine_tuning/jobs/{job_id}/checkpoints", jobs.checkpoints)
    router.add("POST", "/v1/fine_tuning/jobs/{job_id}/cancel", jobs.cancel)


def _read_examples(job: Job, state: State) -> None:
    """Parse the job's training (and validation) file; a file that does not parse fails the job, naming it."""
    try:
        job.examples = parse_training_file(state.files[job.training_file].content)
        if job.validation_file:
            job.n_validation = len(parse_training_file(state.files[job.validation_file].content, minimum=1))
    except InvalidTrainingFile as error:
        param = "validation_file" if job.examples else "training_file"
        job.error = {"code": "invalid_training_file", "message": str(error), "param": param}


def _resolve(job: Job, requested: dict[str, Any]) -> None:
    """Fill in what ``auto`` means for this file, and the billed token count."""
    estimate = estimate_training([e.messages for e in job.examples], job.model, requested["n_epochs"])
    job.n_epochs = estimate.epochs
    job.batch_size = requested["batch_size"] if requested["batch_size"] != "auto" else 1
    multiplier = requested["learning_rate_multiplier"]
    job.learning_rate_multiplier = multiplier if multiplier != "auto" else 2.0
    job.trained_tokens = estimate.billed_tokens
