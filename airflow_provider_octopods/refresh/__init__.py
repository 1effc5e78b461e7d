"""Which rows a snapshot or table fetches again: the refresh policies, with no I/O and no clock.

``rows`` is what a policy reads of the rows held (one per message); ``fixed`` the age rule;
``hazards`` estimates from those rows how soon a status changes; ``learned`` spends requests
where that estimate says a status may have changed, to meet a ``target``.
"""

from airflow_provider_octopods.refresh.fixed import FixedRefresh
from airflow_provider_octopods.refresh.learned import LearnedRefresh
from airflow_provider_octopods.refresh.policy import Decision, RefreshPolicy
from airflow_provider_octopods.refresh.target import RefreshTarget

__all__ = ["Decision", "FixedRefresh", "LearnedRefresh", "RefreshPolicy", "RefreshTarget"]
