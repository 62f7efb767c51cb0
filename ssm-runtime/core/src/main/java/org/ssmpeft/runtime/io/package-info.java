/** Durable file output: atomic replacement of a file (temp file in the same directory, fsync, rename). */
package org.ssmpeft.runtime.io;
