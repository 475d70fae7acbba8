"""Apache Airflow provider for the YXT (一信通) SMS gateway."""

__version__ = "0.1.0"
