-- The prediction store's database (PREDICTION_STORE_URL=postgresql+psycopg://mlflow:...@mlflow-db:5432/predictions),
-- next to MLflow's: run by the postgres image on its first start, as POSTGRES_USER, who then owns it.
CREATE DATABASE predictions;
