"""Apache Airflow provider for the Octopods WhatsApp Business API: message delivery statuses."""

__version__ = "0.2.0"
