DROP TABLE address_quotas;
