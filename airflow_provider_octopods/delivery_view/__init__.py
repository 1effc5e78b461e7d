"""The Delivery view: the delivery report inside Airflow's UI, for those allowed to read it.

An Airflow plugin (``plugin``) adds a FastAPI app to the API server (``app``) and an entry in
the UI's navigation. The app lists the snapshot Assets of this provider and the days each
published (``published``, from Airflow's metadata database), shows a day's figures computed
by ``analytics`` (``figures``: the same code as the PNG and the terminal summary), and asks
Airflow's auth manager whether the user may read the DAG behind each day (``access``).
``links`` takes a user from a snapshot task to its day's report.
"""
