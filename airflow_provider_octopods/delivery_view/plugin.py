"""The Airflow plugin: the Delivery view's app in the API server and its entry in the UI's
navigation (``external_views``: a page the UI shows in its own frame, Airflow 3.1+). A React
app would need a JavaScript build and bundle of its own; a page served by the app needs
neither, and works the same on Airflow 3.2 and 3.3.

Every Airflow process loads plugins, task workers included: the app (FastAPI and the API
server's security code, seconds to import) is built on its first request, in the API server."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_octopods.delivery_view.links import PREFIX, view_path


class _AppOnFirstRequest:
    """An ASGI app that imports the view's FastAPI app when the API server first calls it."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from airflow_provider_octopods.delivery_view.app import app

            self._app = app
        await self._app(scope, receive, send)


class OctopodsDeliveryPlugin(AirflowPlugin):
    name = "octopods_delivery"
    fastapi_apps = [{"app": _AppOnFirstRequest(), "url_prefix": PREFIX, "name": "Octopods delivery view"}]
    external_views = [
        {
            "name": "Delivery",
            "href": view_path(),
            "destination": "nav",
            "category": "browse",
            "url_route": "octopods-delivery",
        }
    ]
