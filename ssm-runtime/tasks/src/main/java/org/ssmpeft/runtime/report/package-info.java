/** Training reports drawn from a run's metrics log: {@link org.ssmpeft.runtime.report.TrainingCurve} (JFreeChart). */
package org.ssmpeft.runtime.report;
