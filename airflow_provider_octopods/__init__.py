"""Apache Airflow provider for the Octopods WhatsApp Business API: message delivery statuses."""

__version__ = "0.1.0"
