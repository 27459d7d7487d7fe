"""A/B tests of journey messages: which variant a journey's send step sends.

`rules/journeys.yaml` sets experiments up under `experiments:`, each on one journey's
template (`JourneyExperiment`). The choice is made in the send activity, from the
customer id and the experiment's name, so no workflow code changes and every history
replays: the workflow still asks for its template, and the send step sends the
customer's variant of it instead and records experiment and variant in the ledger.

The send step knows the journey by its workflow id: every journey's ids start with a
part of their own (`retention_offer-…`, `complaint-…`, see workflows/ids.py), which
`journey_id_kinds` reads off each journey's id builder, so the registry stays the one
place that knows it (activities import no workflows).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from careflow.experiments.assign import assign_variant
from careflow.journey_config import JourneyConfigError, load_journey_config
from careflow.journey_spec import Journey

logger = logging.getLogger(__name__)

# Any day: the id's first part does not depend on it.
_SAMPLE_DAY = date(2000, 1, 1)


@dataclass(frozen=True, kw_only=True)
class VariantChoice:
    """The customer's variant of an experiment, and the template it sends."""

    experiment: str
    variant: str
    template_id: str


def journey_id_kinds(journeys: Mapping[str, Journey]) -> dict[str, str]:
    """The first part of each journey's workflow ids, to the journey's name."""
    kinds: dict[str, str] = {}
    for journey in journeys.values():
        sample = journey.workflow_id("customer", "rule", "subject", _SAMPLE_DAY, None)
        kinds[sample.split("-", 1)[0]] = journey.name
    return kinds


@dataclass(frozen=True)
class JourneyVariants:
    """Picks the variant a journey's send step sends, from `rules/journeys.yaml`."""

    config_path: Path
    kinds: Mapping[str, str]

    def choose(self, workflow_id: str, template_id: str, customer_id: str) -> VariantChoice | None:
        """The customer's variant when the journey of `workflow_id` runs an experiment
        on `template_id`; None otherwise (the template is sent as it is).

        A journeys.yaml that does not load sets up no experiment: the journey's own
        plan step reports the file's problems, and the message goes out unchanged.
        """
        journey = self.kinds.get(workflow_id.split("-", 1)[0])
        if journey is None:
            return None
        try:
            config = load_journey_config(self.config_path)
        except JourneyConfigError:
            logger.warning("journeys.yaml does not load: no experiment for %s", workflow_id)
            return None
        experiment = config.experiment_for(journey, template_id)
        if experiment is None:
            return None
        variant = assign_variant(experiment.name, customer_id, experiment.weights)
        return VariantChoice(
            experiment=experiment.name,
            variant=variant,
            template_id=experiment.variants[variant].template,
        )
