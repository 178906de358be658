DROP TABLE api_key_rate;
DROP TABLE login_throttle;
