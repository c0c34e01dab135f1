DROP TABLE password_reset_requests;
DROP TABLE throttle_events;
