PRAGMA foreign_keys = ON;

CREATE TABLE "stadium" (
"Stadium_ID" int,
"Location" text,
"Name" text,
"Capacity" int,
PRIMARY KEY ("Stadium_ID")
);

CREATE TABLE "concert" (
"concert_ID" int,
"concert_Name" text,
"Theme" text,
"Stadium_ID" text,
"Year" text,
PRIMARY KEY ("concert_ID"),
FOREIGN KEY ("Stadium_ID") REFERENCES "stadium"("Stadium_ID")
);

INSERT INTO "stadium" VALUES (1, 'Raith Rovers', 'Stark''s Park', 10104);
INSERT INTO "stadium" VALUES (2, 'Ayr United', 'Somerset Park', 11998);
INSERT INTO "stadium" VALUES (3, 'East Fife', 'Bayview Stadium', 2000);
INSERT INTO "concert" VALUES (1, 'Auditions', 'Free choice', '1', '2014');
INSERT INTO "concert" VALUES (2, 'Super bootcamp', 'Free choice 2', '2', '2014');
INSERT INTO "concert" VALUES (3, 'Home Visits', 'Bleeding Love', '2', '2015');
