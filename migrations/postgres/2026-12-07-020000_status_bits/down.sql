DROP SEQUENCE status_bits_handed_out;
