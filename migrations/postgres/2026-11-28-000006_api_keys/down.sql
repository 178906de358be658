DROP TABLE dashboard_version;
DROP TABLE api_keys;
