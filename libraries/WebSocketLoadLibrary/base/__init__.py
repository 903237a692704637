"""What the keyword components stand on: the component base class (`component`), the
library's state for the run (`state`) with its registry of open servers and client groups
(`registry`) and where results are saved (`result_files`), what runs and reports a load
step for the keywords (`step_report`) and a capacity search's probes (`capacity_probes`).
Robot Framework is imported here, as in keywords/; the keyword classes are in keywords/."""
