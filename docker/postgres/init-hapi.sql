-- A separate role and database for HAPI FHIR in the shared PostgreSQL (first start only).
-- Change the password together with HAPI_DB_PASSWORD.
CREATE ROLE hapi LOGIN PASSWORD 'change-me';
CREATE DATABASE hapi OWNER hapi;
