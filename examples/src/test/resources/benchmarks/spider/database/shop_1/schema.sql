CREATE TABLE maker (Maker_ID integer PRIMARY KEY, Name text);
CREATE TABLE product (Product_ID integer PRIMARY KEY, Name text, Maker_ID integer, Price real,
  FOREIGN KEY (Maker_ID) REFERENCES maker(Maker_ID));
INSERT INTO maker VALUES (1, 'Acme'), (2, 'Globex');
INSERT INTO product VALUES (1, 'Widget', 1, 2.5), (2, 'Gadget', 1, 10.0), (3, 'Sprocket', 2, 4.0);
