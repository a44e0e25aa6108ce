-- The contact-policy pack a product's cases are checked against ('cn' or 'us'); NULL picks
-- by the borrower's time zone (us for America/*, cn otherwise).
ALTER TABLE products ADD COLUMN contact_pack TEXT;
