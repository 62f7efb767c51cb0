CREATE TABLE country (Code text PRIMARY KEY, Name text, Continent text);
CREATE TABLE city (City_ID integer PRIMARY KEY, Name text, Country text, Population integer,
  FOREIGN KEY (Country) REFERENCES country(Code));
INSERT INTO country VALUES ('CHL', 'Chile', 'South America'), ('PER', 'Peru', 'South America'),
  ('NOR', 'Norway', 'Europe');
INSERT INTO city VALUES (1, 'Santiago', 'Chile', 6300000), (2, 'Valparaiso', 'Chile', 300000),
  (3, 'Lima', 'Peru', 9700000), (4, 'Oslo', 'Norway', 700000), (5, 'Bergen', 'Norway', 285000);
